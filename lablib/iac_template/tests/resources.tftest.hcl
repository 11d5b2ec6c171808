# terraform test: the runs below share a state of their own, destroyed at the end, and use names
# of their own, so the chapter's real topic and table are never touched.
variables {
  topic = "ch08.iac-test"
  table = "iac_test"
}

run "creates_the_table_and_the_topic" {
  assert {
    condition     = fileexists("${var.warehouse}/ch08.db/iac_test/_delta_log/00000000000000000000.json")
    error_message = "the Delta table was not written"
  }
  assert {
    condition     = output.topic == "ch08.iac-test"
    error_message = "the topic resource is named ${output.topic}"
  }
}

run "a_new_table_name_replaces_the_table" {
  variables {
    table = "iac_test_renamed"
  }
  assert {
    condition     = fileexists("${var.warehouse}/ch08.db/iac_test_renamed/_delta_log/00000000000000000000.json")
    error_message = "the renamed table was not written"
  }
  assert {
    condition     = !fileexists("${var.warehouse}/ch08.db/iac_test/_delta_log/00000000000000000000.json")
    error_message = "the old table is still on disk: its destroy provisioner did not run"
  }
}
