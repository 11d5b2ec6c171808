# Chapter 08's local resources, declared: a Kafka topic and a Delta table.
# No provider is downloaded: terraform_data is built into Terraform and OpenTofu, and each
# resource's create and destroy run the course's own command (python -m lablib.resources).

terraform {
  required_version = ">= 1.6" # check blocks (1.5) and terraform test (1.6)
}

locals {
  # the command every provisioner starts with; stored in each resource's input, since a
  # destroy-time provisioner may only read its own resource (self), not variables
  run        = [var.python, "-m", "lablib.resources"]
  table_path = "${var.warehouse}/ch08.db/${var.table}"
}

resource "terraform_data" "topic" {
  triggers_replace = [var.topic, var.partitions] # a new name or partition count: a new topic
  input            = { name = var.topic, partitions = var.partitions, run = local.run }

  provisioner "local-exec" {
    interpreter = concat(self.input.run, ["topic", "create", "--partitions", tostring(self.input.partitions)])
    command     = self.input.name
  }
  provisioner "local-exec" {
    when        = destroy
    interpreter = concat(self.input.run, ["topic", "delete"])
    command     = self.input.name
  }
}

resource "terraform_data" "table" {
  triggers_replace = [local.table_path]
  input            = { path = local.table_path, run = local.run }

  provisioner "local-exec" {
    interpreter = concat(self.input.run, ["table", "create"])
    command     = self.input.path
  }
  provisioner "local-exec" {
    when        = destroy
    interpreter = concat(self.input.run, ["table", "delete"])
    command     = self.input.path
  }
}

# A check warns and never blocks. Terraform's functions read local files when it plans, so the
# table's first log entry is something Terraform can look at itself.
check "table_on_disk" {
  assert {
    condition     = fileexists("${terraform_data.table.output.path}/_delta_log/00000000000000000000.json")
    error_message = "Delta table ${var.table} has no transaction log on disk: it was removed outside Terraform."
  }
}

# The broker is out of Terraform's sight without a provider: it knows the topic only through
# var.broker_topics, the list the broker gave just before the plan (null: not looked).
check "topic_on_broker" {
  assert {
    condition     = var.broker_topics == null || contains(coalesce(var.broker_topics, []), terraform_data.topic.output.name)
    error_message = "the broker does not list topic ${var.topic}: it was deleted outside Terraform."
  }
}

output "topic" {
  value = terraform_data.topic.output.name
}

output "table" {
  value = var.table
}
