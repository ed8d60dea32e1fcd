print("ukp-fuse: not yet implemented")
