{
  "targets": [
    {
      "target_name": "tunpf",
      "sources": ["native/tunpf.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
