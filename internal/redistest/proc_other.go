//go:build !linux

package redistest

import "os/exec"

// setProcAttr does nothing where there is no parent-death signal; t.Cleanup
// still kills the server on every normal exit.
func setProcAttr(*exec.Cmd) {}
