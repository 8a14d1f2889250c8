// Command notify-wss is a Socket.IO notification server: it authenticates
// clients with JWT, subscribes to Redis and fans every notification out to
// the rooms that want it.
//
// Run with no subcommand it serves, configured from the environment, a .env
// file and flags. See `notify-wss --help`.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches a subcommand and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	} else if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		cmd = "help"
	}
	var err error
	switch cmd {
	case "serve":
		err = serveCommand(args, stdout, stderr)
	case "token":
		err = tokenCommand(args, stdout, stderr)
	case "publish":
		err = publishCommand(args, stdout, stderr)
	case "healthcheck":
		err = healthcheckCommand(args, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "notify-wss", buildVersion())
	case "help":
		usage(stdout)
	default:
		fmt.Fprintf(stderr, "notify-wss: unknown command %q\n\n", cmd)
		usage(stderr)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	default:
		fmt.Fprintln(stderr, "notify-wss:", err)
		return 1
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Usage: notify-wss [command] [flags]

Commands:
  serve        run the server (the default when no command is given)
  token        mint a client token with the configured JWT_SECRET
  publish      publish a notification to the configured Redis
  healthcheck  exit 0 when the local server answers /ready (for container health checks)
  version      print the version
  help         print this help

Every command takes -h for its flags. Settings come from flags, then the
environment, then a .env file in the working directory, then defaults.

`)
	printSettings(w)
}

// printSettings lists every setting with its default.
func printSettings(w io.Writer) {
	fmt.Fprintln(w, "Settings (environment variable, flag, default):")
	for _, s := range settings {
		def := s.def
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(w, "  %-19s -%-16s %-13s %s\n", s.env, s.flag, def, s.help)
	}
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
	}
	return "dev"
}

// newLogger returns the JSON logger every log line goes through.
func newLogger(w io.Writer, level string) *slog.Logger {
	l, err := parseLevel(level)
	if err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})).With("service", "notify-wss")
}
