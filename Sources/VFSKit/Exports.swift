/// `import VFSKit` is enough to write handlers: `Errno` (and the rest of swift-system)
/// comes with it. C's errno names map to swift-system's as documented in
/// <doc:ErrnoNames> (`EINVAL` is `Errno.invalidArgument`, `ENODEV` `Errno.operationNotSupportedByDevice`, …).
@_exported public import SystemPackage
