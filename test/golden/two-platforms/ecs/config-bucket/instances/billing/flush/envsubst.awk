(the content of components/envsubst.awk, unchanged)
