"""Mega Awesome Toys' platform: factory telemetry from Kafka to gold, one idempotent stage at a time.

    from mat_platform import pipeline, settings
    conf = settings.load("dev")                 # where every table and checkpoint of this home lives
    report = pipeline.run(conf)                 # produce -> bronze -> silver -> gold, counts and seconds
    print(pipeline.table(report))

The command line is ``python -m mat_platform up|run|down|status`` (the course runs it as
``lab capstone ...``).
"""

__version__ = "0.1.0"
