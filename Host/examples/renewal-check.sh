# Forks twice (one child at a time) and prints, on each side right after each fork returns,
# what must differ between parent and child (random state, generation, identity) and its
# clock around the fork; see Host/guest/ukp-renewal-check.c. Run with --console-stamps.
ukp-renewal-check 2
