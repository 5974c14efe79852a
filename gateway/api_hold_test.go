package gateway_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/api/server"
	"github.com/caravan-consortium/caravan/internal/testnet"
)

// dialFrom makes rm's client connect from a loopback address of its own.
func dialFrom(rm *testnet.Remote, ip string) {
	tr := rm.HC.Transport.(*http.Transport).Clone()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	tr.DialContext = d.DialContext
	rm.HC = &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

// An outsider cannot hold the API listener: 256 connections that drip a
// chunked body with no token are each closed right after their 401 (they
// filled the listener, and every token holder and the console waited);
// one address cannot hold more than its share of connections; and a token
// holder's calls go through all along.
func TestOutsiderCannotHoldTheAPIListener(t *testing.T) {
	c := testnet.NewCluster(t, 1)
	c.OpenAPI(0)
	n := c.Start(0)
	listen := n.Services().Admin.Status().API.Listen
	rm := testnet.NewRemote(t, c.Dir(0), listen, "case-system", server.ScopeRead)
	dialFrom(rm, "127.0.0.2")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var closed, refused atomic.Int64
	for range 256 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := (&tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true}}).DialContext(ctx, "tcp", listen)
			if err != nil {
				closed.Add(1)
				return
			}
			defer conn.Close()
			fmt.Fprintf(conn, "POST /v1/publish?dataset=x HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n\r\n", listen)
			go func() { // drip, a byte at a time, until the server hangs up
				for ctx.Err() == nil {
					if _, err := conn.Write([]byte("1\r\nx\r\n")); err != nil {
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			}()
			buf := make([]byte, 4096)
			conn.SetReadDeadline(time.Now().Add(20 * time.Second))
			got := ""
			for {
				k, err := conn.Read(buf)
				got += string(buf[:k])
				if err != nil {
					break
				}
			}
			if len(got) >= 12 && got[9:12] == "401" {
				refused.Add(1)
			}
			closed.Add(1)
		}()
	}
	// The token holder is served while the outsider attacks.
	for i := range 20 {
		if code, _ := rm.Call("GET", "/v1/status", ""); code != 200 {
			t.Fatalf("call %d of a token holder during the attack: %d", i, code)
		}
		time.Sleep(50 * time.Millisecond)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatalf("the server still holds %d of 256 dripping connections", 256-closed.Load())
	}
	if refused.Load() == 0 { // the others were past their address's share
		t.Fatal("no dripping connection got its 401")
	}
	t.Logf("of 256 dripping connections, %d were answered 401 and closed, the rest closed as past their address's share", refused.Load())

	// One address holds at most its share: of 64 idle connections from
	// one address, those past the share are closed at once.
	var early atomic.Int64
	var idle sync.WaitGroup
	for range 64 {
		idle.Add(1)
		go func() {
			defer idle.Done()
			d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.3")}}
			conn, err := d.DialContext(ctx, "tcp", listen)
			if err != nil {
				early.Add(1)
				return
			}
			defer conn.Close()
			conn.SetReadDeadline(time.Now().Add(time.Second))
			if _, err := conn.Read(make([]byte, 1)); err != nil {
				if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
					early.Add(1) // closed by the server within the second
				}
			}
		}()
	}
	idle.Wait()
	if e := early.Load(); e < 64-40 {
		t.Fatalf("only %d of 64 connections from one address were closed at once", e)
	}
	if code, _ := rm.Call("GET", "/v1/status", ""); code != 200 {
		t.Fatalf("a token holder after the attacks: %d", code)
	}
}
