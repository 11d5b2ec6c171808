variable "python" {
  type        = string
  description = "the Python that runs lablib (the notebook passes its own)"
}

variable "warehouse" {
  type        = string
  description = "the course's warehouse folder (under LAB_HOME): the table lives in ch08.db"
}

variable "topic" {
  type    = string
  default = "ch08.machine-events"
  validation {
    condition     = startswith(var.topic, "ch08.")
    error_message = "the chapter's topics are named ch08.<something>, so its reset removes them."
  }
}

variable "partitions" {
  type    = number
  default = 3
  validation {
    condition     = var.partitions >= 1 && var.partitions <= 12
    error_message = "a topic needs 1 to 12 partitions here."
  }
}

variable "table" {
  type    = string
  default = "machine_events"
}

variable "broker_topics" {
  type        = list(string)
  default     = null
  description = "the topics the broker listed just before this plan; null when nobody looked"
}
