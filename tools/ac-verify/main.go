// Command ac-verify is an ArchiveCache command; run "ac-verify -h" for its usage.
// The command itself lives in package internal/cli.
package main

import (
	"os"

	"github.com/archivecache/archivecache/internal/cli"
)

func main() { os.Exit(cli.Main("verify")) }
