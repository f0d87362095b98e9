package server

import (
	"net"
	"net/http"
	"strings"
)

// reasonHost is the denied counter's reason for a request whose Host header
// names no loopback address of the collector.
const reasonHost = "host_not_loopback"

// loopbackHosts returns the Host header values a loopback HTTP listener at
// addr answers: localhost, 127.0.0.1 and [::1] with its port, and its own
// host with its port (127.0.0.2:7071, say); without a port when it is 80.
func loopbackHosts(addr string) map[string]bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil
	}
	hosts := []string{"localhost", "127.0.0.1", "[::1]"}
	if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		host = "[" + host + "]"
	}
	hosts = append(hosts, host)
	ok := make(map[string]bool, 2*len(hosts))
	for _, h := range hosts {
		ok[h+":"+port] = true
		if port == "80" {
			ok[h] = true
		}
	}
	return ok
}

// checkHost refuses requests whose Host header is not one of allowed: on a
// loopback address a browser page from any site can reach the collector by
// having its own name resolve to 127.0.0.1 (DNS rebinding), and would then
// be an admin in development mode. Such requests carry the page's name in
// Host. The refusal is a 421 that says which names are served; it is
// logged and counted.
func (g *guard) checkHost(allowed map[string]bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if allowed[strings.ToLower(r.Host)] {
			next.ServeHTTP(w, r)
			return
		}
		g.denied.WithLabelValues("HTTP "+r.Method, reasonHost).Inc()
		g.log.Warn("web request denied", "method", r.Method, "path", r.URL.Path, "peer", r.RemoteAddr,
			"reason", reasonHost, "host", r.Host)
		http.Error(w, "misdirected request: this collector serves its HTTP address on loopback only, as localhost, 127.0.0.1 or [::1] "+
			"with its port; a page under another name (DNS rebinding) is refused", http.StatusMisdirectedRequest)
	})
}
