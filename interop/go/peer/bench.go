// Benchmark mode (-bench): the node's transport counts the bytes it sends (UDP
// datagrams and TCP stream writes, payload only), node events are not printed,
// and the "stats" command reports the counts and what this node sees, cheaply,
// for memberlist-rs's benchmark harness (bench/ in the repository).
package main

import (
	"encoding/json"
	"log"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// benchMode is set by -bench.
var benchMode bool

// streamBytesSent counts the part of bytesSent written to streams.
var streamBytesSent uint64

// dials counts the streams this node opened.
var dials uint64

// bytesSent counts payload bytes handed to the network: datagrams and stream writes.
var bytesSent uint64

// countingTransport wraps memberlist's own NetTransport and counts what it sends.
type countingTransport struct {
	inner   *memberlist.NetTransport
	streams chan net.Conn
}

func (t *countingTransport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	return t.inner.FinalAdvertiseAddr(ip, port)
}

func (t *countingTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	at, err := t.inner.WriteTo(b, addr)
	if err == nil {
		atomic.AddUint64(&bytesSent, uint64(len(b)))
	}
	return at, err
}

func (t *countingTransport) PacketCh() <-chan *memberlist.Packet { return t.inner.PacketCh() }

func (t *countingTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	conn, err := t.inner.DialTimeout(addr, timeout)
	if err != nil {
		return nil, err
	}
	atomic.AddUint64(&dials, 1)
	return countingConn{conn}, nil
}

func (t *countingTransport) StreamCh() <-chan net.Conn { return t.streams }

func (t *countingTransport) Shutdown() error { return t.inner.Shutdown() }

// countingConn counts the bytes written to a stream.
type countingConn struct{ net.Conn }

func (c countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	atomic.AddUint64(&bytesSent, uint64(n))
	atomic.AddUint64(&streamBytesSent, uint64(n))
	return n, err
}

// installCountingTransport binds the NetTransport that memberlist.Create would
// have bound (same address, same kernel-chosen port when -port is 0) and
// installs the counting wrapper as cfg.Transport.
func installCountingTransport(cfg *memberlist.Config) {
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{cfg.BindAddr},
		BindPort:  cfg.BindPort,
		Logger:    log.New(os.Stderr, "", log.LstdFlags),
	})
	if err != nil {
		fail("-bench: cannot bind: %v", err)
	}
	if cfg.BindPort == 0 {
		port := nt.GetAutoBindPort()
		cfg.BindPort = port
		cfg.AdvertisePort = port
	}
	t := &countingTransport{inner: nt, streams: make(chan net.Conn)}
	go func() {
		for conn := range nt.StreamCh() {
			t.streams <- countingConn{conn}
		}
	}()
	cfg.Transport = t
}

// benchStats answers the "stats" command: members alive as this node sees
// them, bytes sent so far, and the state of node `to` ("alive", "suspect", or
// "gone" when it is dead, left or unknown).
func benchStats(ml *memberlist.Memberlist, to string, id json.RawMessage) map[string]interface{} {
	alive, target := 0, "gone"
	for _, n := range ml.Members() {
		st, _ := nodeStateOf(n)
		if st == memberlist.StateAlive {
			alive++
		}
		if to != "" && n.Name == to {
			target = stateName(st)
		}
	}
	obj := map[string]interface{}{
		"event":             "stats",
		"alive":             alive,
		"bytes_sent":        atomic.LoadUint64(&bytesSent),
		"dials":             atomic.LoadUint64(&dials),
		"stream_bytes_sent": atomic.LoadUint64(&streamBytesSent),
		"target":            target,
	}
	withID(obj, id)
	return obj
}
