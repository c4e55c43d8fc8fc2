// HTTP/1.1 hello-world server on Go's net/http (full request parsing, keep-alive).
//
// usage: http_go PORT    (binds 127.0.0.1:PORT, prints one READY line, runs until killed)
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
)

var hello = []byte("Hello, World!")

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: http_go PORT")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "http_go:", err)
		os.Exit(1)
	}
	fmt.Println("READY", os.Args[1])
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/plain")
		h.Set("Content-Length", "13")
		w.Write(hello)
	})
	fmt.Fprintln(os.Stderr, "http_go:", http.Serve(ln, handler))
	os.Exit(1)
}
