{
  line = $0; result = ""
  while (match(line, /\$\([a-zA-Z_0-9]+\)/)) {
    name = substr(line, RSTART + 2, RLENGTH - 3)
    if (!(name in ENVIRON)) { printf "found reference to unset environment variable %s\n", name > "/dev/stderr"; failed = 1; exit 1 }
    result = result substr(line, 1, RSTART - 1) ENVIRON[name]
    line = substr(line, RSTART + RLENGTH)
  }
  print result line
}
END { if (failed) exit 1 }
