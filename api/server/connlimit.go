package server

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// An outsider must not hold the listener. Three bounds, beside the
// listener's cap of maxAPIConns connections:
//
//   - an address holds at most maxConnsPerAddr connections at once; one
//     more is closed as it is accepted;
//   - a request refused before it reaches the gateway (no token, a bad one,
//     a cross-origin cookie, a rate exceeded, a route not served) closes its
//     connection after the answer, and the rest of its body is not read;
//   - a request's body must keep coming: each read waits at most
//     bodyReadTimeout (a publish upload may take hours, but not pause for
//     long).
const (
	maxConnsPerAddr = 32
	bodyReadTimeout = 30 * time.Second
)

// perAddrListener closes connections past maxConnsPerAddr from one IP.
type perAddrListener struct {
	net.Listener
	max int

	mu    sync.Mutex
	conns map[string]int
}

func limitPerAddr(l net.Listener, max int) net.Listener {
	return &perAddrListener{Listener: l, max: max, conns: map[string]int{}}
}

func (l *perAddrListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip, _, _ := net.SplitHostPort(c.RemoteAddr().String())
		l.mu.Lock()
		over := l.conns[ip] >= l.max
		if !over {
			l.conns[ip]++
		}
		l.mu.Unlock()
		if over {
			c.Close()
			continue
		}
		return &addrConn{Conn: c, release: func() { l.release(ip) }}, nil
	}
}

func (l *perAddrListener) release(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conns[ip]--; l.conns[ip] <= 0 {
		delete(l.conns, ip)
	}
}

// addrConn gives its address's place back once, when closed.
type addrConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *addrConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// closeAfterRefusal makes a refused request's connection close after the
// answer, without reading the rest of its body.
func closeAfterRefusal(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	_ = http.NewResponseController(w).SetReadDeadline(time.Now())
}

// deadlineBody gives each read of a request body bodyReadTimeout.
type deadlineBody struct {
	body interface {
		Read([]byte) (int, error)
		Close() error
	}
	rc *http.ResponseController
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	_ = b.rc.SetReadDeadline(time.Now().Add(bodyReadTimeout))
	return b.body.Read(p)
}

func (b *deadlineBody) Close() error { return b.body.Close() }
