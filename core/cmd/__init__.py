"""Console scripts. Each ``main`` parses configuration, runs the start-up check and
then does its job; a bad configuration exits 2 with one line on stderr."""
