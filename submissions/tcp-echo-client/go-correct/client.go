// TCP echo client in Go: a goroutine copies the server's bytes to stdout while main
// sends stdin, then CloseWrite (half-close) and waits for the server to close.
package main

import (
	"fmt"
	"io"
	"net"
	"os"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: client HOST PORT")
		os.Exit(2)
	}
	conn, err := net.Dial("tcp", net.JoinHostPort(os.Args[1], os.Args[2]))
	if err != nil {
		fmt.Fprintln(os.Stderr, "connect:", err)
		os.Exit(1)
	}
	done := make(chan error)
	go func() {
		_, err := io.Copy(os.Stdout, conn)
		done <- err
	}()
	if _, err := io.Copy(conn, os.Stdin); err != nil {
		fmt.Fprintln(os.Stderr, "send:", err)
		os.Exit(1)
	}
	conn.(*net.TCPConn).CloseWrite() // the server sees the end of our data
	if err := <-done; err != nil {
		fmt.Fprintln(os.Stderr, "receive:", err)
		os.Exit(1)
	}
	conn.Close()
}
