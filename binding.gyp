{
  "targets": [
    {
      "target_name": "tunpf",
      "sources": ["native/tunpf.c", "native/sock-owner.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
