{
  "targets": [
    {
      "target_name": "ots_sys",
      "sources": ["ots_sys.c", "bsdiff.c", "checkout.c", "prune.c", "delta_exec.c", "fetch.c", "tree_format.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-std=gnu11"]
    }
  ]
}
