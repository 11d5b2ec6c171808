"""Reference data of Mega Awesome Toys: places, toy lines, machine types, names.

Plain tuples (ordered, never sets or dicts built from sets) so every run sees
them in the same order. ASCII only and without commas: the CSVs are unquoted.
"""

from __future__ import annotations

# factory: (id, name, city, country, region, opened, capacity units/day)
FACTORIES = (
    ("F-01", "Shenzhen Works", "Shenzhen", "CN", "APAC", "2004-03-01", 180_000),
    ("F-02", "Dongguan Plastics", "Dongguan", "CN", "APAC", "2009-06-15", 140_000),
    ("F-03", "Saigon Plush", "Ho Chi Minh City", "VN", "APAC", "2014-09-01", 90_000),
    ("F-04", "Penang Electronics", "Penang", "MY", "APAC", "2016-02-01", 60_000),
    ("F-05", "Monterrey Assembly", "Monterrey", "MX", "AMER", "2011-04-11", 110_000),
    ("F-06", "Brno Bricks", "Brno", "CZ", "EMEA", "2007-10-01", 120_000),
    ("F-07", "Lodz Games", "Lodz", "PL", "EMEA", "2018-05-20", 50_000),
    ("F-08", "Chennai Outdoor", "Chennai", "IN", "APAC", "2020-01-15", 70_000),
)

# machine type: (name, temperature C, vibration mm/s, rpm, power kW, weight in the fleet)
MACHINE_TYPES = (
    ("injection_molder", 72.0, 2.6, 1200, 45.0, 0.30),
    ("cnc_mill", 46.0, 3.4, 8000, 15.0, 0.10),
    ("paint_robot", 36.0, 1.3, 1500, 8.0, 0.12),
    ("assembly_robot", 39.0, 1.6, 2000, 6.0, 0.20),
    ("packaging_line", 33.0, 2.1, 900, 12.0, 0.18),
    ("3d_printer", 55.0, 0.9, 3000, 1.2, 0.10),
)
MAKERS = ("Arburg", "Engel", "Haas", "Fanuc", "ABB", "Krones", "Stratasys", "KUKA")
FAILURE_MODES = ("bearing_wear", "overheating", "motor_fault", "jam")
STATUSES = ("RUNNING", "IDLE", "WARNING", "FAILURE", "MAINTENANCE")

# retail city: (city, country, region, phone country code, email domain)
CITIES = (
    ("New York", "US", "AMER", "1", "mail.example.com"),
    ("Chicago", "US", "AMER", "1", "mail.example.com"),
    ("Los Angeles", "US", "AMER", "1", "webmail.example.net"),
    ("Austin", "US", "AMER", "1", "inbox.example.org"),
    ("Seattle", "US", "AMER", "1", "mail.example.com"),
    ("Toronto", "CA", "AMER", "1", "post.example.ca"),
    ("Mexico City", "MX", "AMER", "52", "correo.example.mx"),
    ("London", "GB", "EMEA", "44", "mail.example.co.uk"),
    ("Manchester", "GB", "EMEA", "44", "mail.example.co.uk"),
    ("Berlin", "DE", "EMEA", "49", "post.example.de"),
    ("Munich", "DE", "EMEA", "49", "post.example.de"),
    ("Hamburg", "DE", "EMEA", "49", "web.example.de"),
    ("Paris", "FR", "EMEA", "33", "courrier.example.fr"),
    ("Lyon", "FR", "EMEA", "33", "courrier.example.fr"),
    ("Amsterdam", "NL", "EMEA", "31", "mail.example.nl"),
    ("Madrid", "ES", "EMEA", "34", "correo.example.es"),
    ("Milan", "IT", "EMEA", "39", "posta.example.it"),
    ("Stockholm", "SE", "EMEA", "46", "post.example.se"),
    ("Warsaw", "PL", "EMEA", "48", "poczta.example.pl"),
    ("Tokyo", "JP", "APAC", "81", "mail.example.jp"),
    ("Osaka", "JP", "APAC", "81", "mail.example.jp"),
    ("Sydney", "AU", "APAC", "61", "mail.example.com.au"),
    ("Singapore", "SG", "APAC", "65", "mail.example.sg"),
    ("Seoul", "KR", "APAC", "82", "mail.example.kr"),
)
# relative size of each city's customer base (same order as CITIES)
CITY_WEIGHTS = (9, 5, 7, 3, 3, 4, 4, 8, 3, 6, 4, 3, 6, 2, 3, 4, 3, 2, 3, 6, 3, 3, 2, 3)

FIRST_NAMES = (
    "Emma", "Liam", "Olivia", "Noah", "Ava", "Lucas", "Mia", "Leon", "Sofia", "Mateo",
    "Hannah", "Elias", "Chloe", "Hugo", "Lea", "Finn", "Yuki", "Haruto", "Sakura", "Ren",
    "Ji-woo", "Min-jun", "Aisha", "Omar", "Priya", "Arjun", "Zoe", "Jack", "Isla", "Oliver",
    "Camille", "Louis", "Greta", "Lars", "Julia", "Marco", "Giulia", "Pablo", "Lucia", "Maya",
    "Wei", "Mei", "Kai", "Nora", "Theo", "Ella", "Felix", "Amelia", "Ethan", "Grace",
)
LAST_NAMES = (
    "Smith", "Johnson", "Garcia", "Brown", "Miller", "Davis", "Martinez", "Lopez", "Wilson",
    "Muller", "Schmidt", "Schneider", "Fischer", "Weber", "Martin", "Bernard", "Dubois",
    "Rossi", "Russo", "Ferrari", "Sato", "Suzuki", "Takahashi", "Tanaka", "Kim", "Lee",
    "Park", "Nowak", "Kowalski", "Jansen", "de Vries", "Andersson", "Johansson", "Taylor",
    "Thomas", "Moore", "Clark", "Lewis", "Walker", "Young", "Patel", "Singh", "Chen",
    "Wang", "Nguyen", "Hernandez", "Gonzalez", "Perez", "Sanchez", "Romero",
)
STREETS = (
    "Main", "Oak", "Maple", "Cedar", "Elm", "Park", "Lake", "Hill", "River", "Station",
    "Church", "Garden", "Market", "Mill", "Bridge", "Castle", "King", "Queen", "Harbor",
    "Sunset", "Meadow", "Forest", "Spring", "Willow", "Rose", "Canal", "Orchard", "Valley",
)
STREET_KINDS = ("Street", "Avenue", "Road", "Lane", "Way", "Square", "Boulevard")
LOYALTY = ("none", "bronze", "silver", "gold")
PAYMENT_METHODS = ("card", "paypal", "cash", "gift_card", "klarna")

# toy line: (line, category, age group, median price EUR)
TOY_LINES = (
    ("Robo Rangers", "action_figures", "6-12", 24.0),
    ("Dino Dynasty", "action_figures", "4-10", 19.0),
    ("Galaxy Guardians", "action_figures", "8-14", 29.0),
    ("Brick Builders", "building_sets", "6-14", 49.0),
    ("Mega Metropolis", "building_sets", "8-16", 89.0),
    ("Cuddle Critters", "plush", "0-6", 17.0),
    ("Snuggle Safari", "plush", "0-4", 14.0),
    ("Puzzle Planet", "puzzles", "6-99", 15.0),
    ("Family Fun Nights", "board_games", "8-99", 32.0),
    ("Strategy Masters", "board_games", "12-99", 45.0),
    ("Tiny Tinkerers", "stem_kits", "8-14", 39.0),
    ("Code Critters", "stem_kits", "6-12", 59.0),
    ("Backyard Blast", "outdoor", "4-12", 27.0),
    ("Splash Squad", "outdoor", "3-10", 21.0),
    ("Dream Dollhouse", "dolls", "3-10", 64.0),
    ("Fashion Friends", "dolls", "4-12", 22.0),
)
PRODUCT_WORDS = (
    "Deluxe", "Mini", "Turbo", "Classic", "Mega", "Pocket", "Glow", "Rainbow", "Royal", "Super",
    "Ultra", "Junior", "Twin", "Giant", "Magic", "Starter", "Explorer", "Champion",
)
PRODUCT_NOUNS = (
    "Set", "Pack", "Kit", "Bundle", "Edition", "Playset", "Figure", "Box", "Collection", "Racer",
    "Castle", "Rocket", "Dragon", "Robot", "Unicorn", "Train", "Lab", "Garage",
)

USER_AGENTS = (
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML like Gecko) Chrome/126.0 Safari/537.36", "desktop"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML like Gecko) Version/17.5 Safari/605.1.15", "desktop"),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0", "desktop"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "mobile"),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML like Gecko) Chrome/126.0 Mobile Safari/537.36", "mobile"),
    ("Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML like Gecko) Chrome/125.0 Mobile Safari/537.36", "mobile"),
    ("Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "tablet"),
    ("MegaToysApp/3.2.1 (iOS 17.5)", "app"),
)
REFERRERS = ("direct", "https://www.google.com/", "https://www.bing.com/", "https://social.example.com/",
             "https://newsletter.example.com/", "https://ads.example.net/")
SEARCH_TERMS = ("lego", "robot", "dinosaur", "puzzle", "doll", "board game", "plush", "stem", "gift", "outdoor")

# ledger accounts: (id, name)
ACCOUNTS = (
    ("1000", "Bank"),
    ("1100", "Cash and Receivables"),
    ("1300", "Inventory"),
    ("2100", "Accounts Payable"),
    ("4000", "Sales Revenue"),
    ("4100", "Sales Returns"),
    ("5000", "Cost of Goods Sold"),
    ("6100", "Salaries"),
    ("6200", "Rent and Utilities"),
    ("6300", "Marketing"),
)
