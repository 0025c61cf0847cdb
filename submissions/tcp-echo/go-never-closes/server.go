// Bug: a goroutine per connection that returns at EOF without closing the connection:
// the client never sees the end, and every connection's socket stays open.
package main

import (
	"fmt"
	"net"
	"os"
)

func handle(c net.Conn) {
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		c.Write(buf[:n])
	}
}

func main() {
	ln, err := net.Listen("tcp", ":"+os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	var open []net.Conn // kept "for later": so the garbage collector never closes them either
	for {
		conn, err := ln.Accept()
		if err != nil {
			continue
		}
		open = append(open, conn)
		go handle(conn)
	}
}
