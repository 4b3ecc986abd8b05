// Package deploy holds no code: it is the home of the systemd units, the
// sysctl and modules-load files, the nfpm package definition and the package
// maintainer scripts. Its tests check that these files agree with each other
// and with the nfpms section of .goreleaser.yaml, so that a unit, a path or a
// dependency changed in one place and forgotten in another fails `go test`.
package deploy
