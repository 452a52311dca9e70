(the content of components/prometheus/flush.sh, unchanged)
