// Bug: one conn.Read taken as the whole message: echo it, then only wait for the
// client to leave (the rest of what it sends is read and dropped).
package main

import (
	"fmt"
	"io"
	"net"
	"os"
)

func main() {
	ln, err := net.Listen("tcp", ":"+os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	for {
		conn, err := ln.Accept()
		if err != nil {
			continue
		}
		go func(c net.Conn) {
			defer c.Close()
			buf := make([]byte, 4096)
			n, err := c.Read(buf) // the whole message, or so it thinks
			if err != nil {
				return
			}
			c.Write(buf[:n])
			io.Copy(io.Discard, c) // wait until the client closes
		}(conn)
	}
}
