{
  "targets": [
    {
      "target_name": "ots_sys",
      "sources": ["ots_sys.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-std=gnu11"]
    }
  ]
}
