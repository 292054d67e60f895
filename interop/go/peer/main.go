// Command memberlist-go-peer runs ONE HashiCorp memberlist node (the Go
// implementation) and is driven over stdin/stdout with JSON lines. It exists so
// that memberlist-rs can test wire compatibility against real Go nodes; the
// protocol is described in the memberlist-interop crate docs (interop/src/lib.rs).
//
// It is built in GOPATH mode against Debian's golang-github-hashicorp-memberlist-dev
// (memberlist 0.2.2) by interop/build.sh, with nothing downloaded.
package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/hashicorp/memberlist"
)

// ---------------------------------------------------------------------------
// Output: one JSON object per line on stdout, written with a single write call
// under a mutex, so lines never interleave and each is flushed at once.

var outMu sync.Mutex

func emit(obj map[string]interface{}) {
	line, err := json.Marshal(obj)
	if err != nil {
		fmt.Fprintf(os.Stderr, "memberlist-go-peer: cannot encode event: %v\n", err)
		return
	}
	line = append(line, '\n')
	outMu.Lock()
	defer outMu.Unlock()
	if _, err := os.Stdout.Write(line); err != nil {
		// The driver is gone; nothing useful is left to do.
		fmt.Fprintf(os.Stderr, "memberlist-go-peer: stdout: %v\n", err)
		os.Exit(3)
	}
}

// putBytes stores b under key as a UTF-8 string, or under key+"_b64" as
// standard base64 when b is not valid UTF-8.
func putBytes(obj map[string]interface{}, key string, b []byte) {
	if utf8.Valid(b) {
		obj[key] = string(b)
	} else {
		obj[key+"_b64"] = base64.StdEncoding.EncodeToString(b)
	}
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "memberlist-go-peer: "+format+"\n", args...)
	os.Exit(2)
}

// ---------------------------------------------------------------------------
// Reading Go's own view of a node's state and incarnation.
//
// In memberlist 0.2.2 the public Node.State field is never written: the state
// lives in the unexported nodeState struct, which embeds Node as its first
// field and shadows State, next to Incarnation. Every *Node that memberlist
// hands to the EventDelegate (and every entry of Members()) is &nodeState.Node,
// so, after checking the layout with reflection at start-up, we read the real
// state and incarnation through it. If the layout is not the expected one
// (another memberlist version), we fall back to the public fields and report no
// incarnation.

type stateReader struct {
	ok       bool
	nsType   reflect.Type
	incIndex []int
	stIndex  []int
}

var states stateReader

func initStateReader() {
	mlType := reflect.TypeOf(memberlist.Memberlist{})
	nodesField, ok := mlType.FieldByName("nodes")
	if !ok || nodesField.Type.Kind() != reflect.Slice ||
		nodesField.Type.Elem().Kind() != reflect.Ptr ||
		nodesField.Type.Elem().Elem().Kind() != reflect.Struct {
		return
	}
	ns := nodesField.Type.Elem().Elem()
	if ns.NumField() == 0 {
		return
	}
	first := ns.Field(0)
	if !first.Anonymous || first.Type != reflect.TypeOf(memberlist.Node{}) || first.Offset != 0 {
		return
	}
	inc, ok := ns.FieldByName("Incarnation")
	if !ok || inc.Type.Kind() != reflect.Uint32 {
		return
	}
	st, ok := ns.FieldByName("State")
	if !ok || st.Type != reflect.TypeOf(memberlist.NodeStateType(0)) {
		return
	}
	lock, ok := mlType.FieldByName("nodeLock")
	if !ok || lock.Type != reflect.TypeOf(sync.RWMutex{}) {
		return
	}
	states = stateReader{ok: true, nsType: ns, incIndex: inc.Index, stIndex: st.Index}
}

// nodeStateOf reads state and incarnation of a *Node that memberlist handed
// out (it must point into a nodeState, and memberlist's nodeLock must be held
// or the call must come from a delegate callback, which runs under it).
func nodeStateOf(n *memberlist.Node) (memberlist.NodeStateType, *uint32) {
	if !states.ok {
		return n.State, nil
	}
	v := reflect.NewAt(states.nsType, unsafe.Pointer(n)).Elem()
	st := memberlist.NodeStateType(v.FieldByIndex(states.stIndex).Int())
	inc := uint32(v.FieldByIndex(states.incIndex).Uint())
	return st, &inc
}

func stateName(s memberlist.NodeStateType) string {
	switch s {
	case memberlist.StateAlive:
		return "alive"
	case memberlist.StateSuspect:
		return "suspect"
	case memberlist.StateDead:
		return "dead"
	case memberlist.StateLeft:
		return "left"
	default:
		return "unknown(" + strconv.Itoa(int(s)) + ")"
	}
}

// nodeJSON describes a node; if fromState, State/Incarnation are read from
// the enclosing nodeState (see above), otherwise the public fields are used.
func nodeJSON(n *memberlist.Node, fromState bool) map[string]interface{} {
	obj := map[string]interface{}{
		"node": n.Name,
		"addr": n.Addr.String(),
		"port": n.Port,
		// as numbers: encoding/json would turn a []uint8 into base64
		"vsn": []int{int(n.PMin), int(n.PMax), int(n.PCur), int(n.DMin), int(n.DMax), int(n.DCur)},
	}
	st, inc := n.State, (*uint32)(nil)
	if fromState {
		st, inc = nodeStateOf(n)
	}
	obj["state"] = stateName(st)
	if inc != nil {
		obj["incarnation"] = *inc
	} else {
		obj["incarnation"] = nil
	}
	putBytes(obj, "meta", n.Meta)
	return obj
}

// allNodes returns every node Go knows, including dead and left ones, read
// from memberlist's internal node list under its lock. ok is false if the
// internal layout is unknown; the caller then falls back to Members().
func allNodes(ml *memberlist.Memberlist) (nodes []map[string]interface{}, ok bool) {
	if !states.ok {
		return nil, false
	}
	mv := reflect.ValueOf(ml).Elem()
	lock := (*sync.RWMutex)(unsafe.Pointer(mv.FieldByName("nodeLock").UnsafeAddr()))
	list := mv.FieldByName("nodes")
	lock.RLock()
	defer lock.RUnlock()
	for i := 0; i < list.Len(); i++ {
		n := (*memberlist.Node)(list.Index(i).UnsafePointer())
		obj := nodeJSON(n, true)
		obj["name"] = obj["node"]
		delete(obj, "node")
		nodes = append(nodes, obj)
	}
	return nodes, true
}

// ---------------------------------------------------------------------------
// Delegates.

type broadcast struct{ msg []byte }

func (b *broadcast) Invalidates(memberlist.Broadcast) bool { return false }
func (b *broadcast) Message() []byte                       { return b.msg }
func (b *broadcast) Finished()                             {}

type delegate struct {
	mu         sync.Mutex
	meta       []byte
	localState []byte
	queue      *memberlist.TransmitLimitedQueue
}

func (d *delegate) NodeMeta(limit int) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.meta) > limit {
		// memberlist panics on oversize metadata; update_meta checks first.
		return append([]byte(nil), d.meta[:limit]...)
	}
	return append([]byte(nil), d.meta...)
}

func (d *delegate) NotifyMsg(b []byte) {
	obj := map[string]interface{}{"event": "message"}
	putBytes(obj, "data", b)
	emit(obj)
}

func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.queue.GetBroadcasts(overhead, limit)
}

func (d *delegate) LocalState(join bool) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]byte(nil), d.localState...)
}

func (d *delegate) MergeRemoteState(buf []byte, join bool) {
	obj := map[string]interface{}{"event": "remote_state", "join": join}
	putBytes(obj, "data", buf)
	emit(obj)
}

type events struct{}

func nodeEvent(kind string, n *memberlist.Node) {
	obj := nodeJSON(n, true)
	obj["event"] = kind
	emit(obj)
}

func (events) NotifyJoin(n *memberlist.Node)   { nodeEvent("join", n) }
func (events) NotifyLeave(n *memberlist.Node)  { nodeEvent("leave", n) }
func (events) NotifyUpdate(n *memberlist.Node) { nodeEvent("update", n) }

type conflicts struct{}

func (conflicts) NotifyConflict(existing, other *memberlist.Node) {
	emit(map[string]interface{}{
		"event":    "conflict",
		"node":     existing.Name,
		"existing": nodeJSON(existing, true),
		"other":    nodeJSON(other, false),
	})
}

type pings struct{}

func (pings) AckPayload() []byte { return nil }
func (pings) NotifyPingComplete(other *memberlist.Node, rtt time.Duration, payload []byte) {
	emit(map[string]interface{}{
		"event":  "ping",
		"node":   other.Name,
		"rtt_ms": float64(rtt) / float64(time.Millisecond),
	})
}

// ---------------------------------------------------------------------------
// Flags.

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

type optDuration struct {
	set bool
	d   time.Duration
}

func (o *optDuration) String() string { return o.d.String() }
func (o *optDuration) Set(v string) error {
	d, err := time.ParseDuration(v)
	if err != nil {
		return err
	}
	if d < 0 {
		return errors.New("must not be negative")
	}
	o.set, o.d = true, d
	return nil
}

type optInt struct {
	set bool
	n   int
}

func (o *optInt) String() string { return strconv.Itoa(o.n) }
func (o *optInt) Set(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil {
		return err
	}
	if n < 1 {
		return errors.New("must be at least 1")
	}
	o.set, o.n = true, n
	return nil
}

func splitAddrs(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// setConfigField sets an exported Config field that only some memberlist
// versions have (e.g. Label, added after 0.2.2). It reports whether it exists.
func setConfigField(cfg *memberlist.Config, name string, value interface{}) bool {
	f := reflect.ValueOf(cfg).Elem().FieldByName(name)
	if !f.IsValid() || !f.CanSet() || f.Type() != reflect.TypeOf(value) {
		return false
	}
	f.Set(reflect.ValueOf(value))
	return true
}

func buildConfig(d *delegate) (*memberlist.Config, []string) {
	var (
		name          = flag.String("name", "", "node name (required)")
		bind          = flag.String("bind", "127.0.0.1", "IP address to bind (UDP and TCP)")
		port          = flag.Int("port", 0, "port to bind, 0 = pick a free one (same for UDP and TCP)")
		advertise     = flag.String("advertise", "", "address to advertise, ip:port (optional)")
		preset        = flag.String("preset", "local", "config preset: lan, local or wan")
		probeInterval optDuration
		probeTimeout  optDuration
		gossipIntv    optDuration
		pushPullIntv  optDuration
		reclaim       optDuration
		suspicionMult optInt
		keys          stringList
		label         = flag.String("label", "", "packet/stream label (needs a memberlist version with labels)")
		compression   = flag.Bool("compression", true, "enable LZW compression")
		verifyIn      = flag.Bool("gossip-verify-incoming", true, "reject unencrypted incoming traffic when a key is set")
		verifyOut     = flag.Bool("gossip-verify-outgoing", true, "encrypt outgoing traffic when a key is set")
		meta          = flag.String("meta", "", "node metadata")
		localState    = flag.String("local-state", "", "data returned by Delegate.LocalState")
		delegateVsn   = flag.String("delegate-version", "", "DelegateProtocolMin,Max,Version, e.g. 0,2,1")
		join          = flag.String("join", "", "comma-separated addresses to join at start-up")
		pingEvents    = flag.Bool("ping-events", false, "emit a ping event for every completed probe")
		bench         = flag.Bool("bench", false, "benchmark mode: count bytes sent (stats command), no node events")
	)
	flag.Var(&probeInterval, "probe-interval", "ProbeInterval override (Go duration)")
	flag.Var(&probeTimeout, "probe-timeout", "ProbeTimeout override (Go duration)")
	flag.Var(&suspicionMult, "suspicion-mult", "SuspicionMult override")
	flag.Var(&gossipIntv, "gossip-interval", "GossipInterval override (Go duration)")
	flag.Var(&pushPullIntv, "pushpull-interval", "PushPullInterval override (Go duration, 0 disables)")
	flag.Var(&reclaim, "dead-node-reclaim", "DeadNodeReclaimTime (Go duration)")
	flag.Var(&keys, "key", "base64 AES key (16, 24 or 32 bytes); may repeat, the first is primary")
	flag.Parse()
	if flag.NArg() != 0 {
		fail("unexpected arguments: %q", flag.Args())
	}

	var cfg *memberlist.Config
	switch *preset {
	case "lan":
		cfg = memberlist.DefaultLANConfig()
	case "local":
		cfg = memberlist.DefaultLocalConfig()
	case "wan":
		cfg = memberlist.DefaultWANConfig()
	default:
		fail("-preset must be lan, local or wan, not %q", *preset)
	}

	if *name == "" {
		fail("-name is required")
	}
	cfg.Name = *name
	if net.ParseIP(*bind) == nil {
		fail("-bind must be an IP address, not %q", *bind)
	}
	cfg.BindAddr = *bind
	if *port < 0 || *port > 65535 {
		fail("-port must be in 0..65535, not %d", *port)
	}
	cfg.BindPort = *port
	cfg.AdvertisePort = *port
	if *advertise != "" {
		host, sport, err := net.SplitHostPort(*advertise)
		if err != nil || net.ParseIP(host) == nil {
			fail("-advertise must be ip:port, not %q", *advertise)
		}
		p, err := strconv.ParseUint(sport, 10, 16)
		if err != nil {
			fail("-advertise port: %v", err)
		}
		cfg.AdvertiseAddr = host
		cfg.AdvertisePort = int(p)
		if *port == 0 {
			fmt.Fprintf(os.Stderr, "memberlist-go-peer: note: with -port 0, memberlist replaces the advertised port with the bound one\n")
		}
	}

	if probeInterval.set {
		cfg.ProbeInterval = probeInterval.d
	}
	if probeTimeout.set {
		cfg.ProbeTimeout = probeTimeout.d
	}
	if suspicionMult.set {
		cfg.SuspicionMult = suspicionMult.n
	}
	if gossipIntv.set {
		cfg.GossipInterval = gossipIntv.d
	}
	if pushPullIntv.set {
		cfg.PushPullInterval = pushPullIntv.d
	}
	if reclaim.set {
		cfg.DeadNodeReclaimTime = reclaim.d
	}

	if len(keys) > 0 {
		var raw [][]byte
		for _, k := range keys {
			b, err := base64.StdEncoding.DecodeString(k)
			if err != nil {
				fail("-key %q is not base64: %v", k, err)
			}
			if err := memberlist.ValidateKey(b); err != nil {
				fail("-key %q: %v", k, err)
			}
			raw = append(raw, b)
		}
		kr, err := memberlist.NewKeyring(raw, raw[0])
		if err != nil {
			fail("keyring: %v", err)
		}
		cfg.Keyring = kr
	}
	if *label != "" && !setConfigField(cfg, "Label", *label) {
		fail("-label: this memberlist version has no label support (Config.Label is missing)")
	}
	cfg.EnableCompression = *compression
	cfg.GossipVerifyIncoming = *verifyIn
	cfg.GossipVerifyOutgoing = *verifyOut

	if len(*meta) > memberlist.MetaMaxSize {
		fail("-meta is %d bytes, the limit is %d", len(*meta), memberlist.MetaMaxSize)
	}
	d.meta = []byte(*meta)
	d.localState = []byte(*localState)
	if *delegateVsn != "" {
		parts := strings.Split(*delegateVsn, ",")
		if len(parts) != 3 {
			fail("-delegate-version must be min,max,cur, not %q", *delegateVsn)
		}
		var v [3]uint8
		for i, p := range parts {
			n, err := strconv.ParseUint(strings.TrimSpace(p), 10, 8)
			if err != nil {
				fail("-delegate-version %q: %v", *delegateVsn, err)
			}
			v[i] = uint8(n)
		}
		cfg.DelegateProtocolMin, cfg.DelegateProtocolMax, cfg.DelegateProtocolVersion = v[0], v[1], v[2]
	}

	cfg.Delegate = d
	cfg.Events = events{}
	cfg.Conflict = conflicts{}
	if *bench {
		benchMode = true
		cfg.Events = nil
		cfg.Conflict = nil
		installCountingTransport(cfg)
	}
	if *pingEvents {
		cfg.Ping = pings{}
	}
	cfg.LogOutput = os.Stderr
	return cfg, splitAddrs(*join)
}

// ---------------------------------------------------------------------------
// Commands.

type command struct {
	Cmd       string          `json:"cmd"`
	Addrs     []string        `json:"addrs"`
	To        string          `json:"to"`
	Addr      string          `json:"addr"`
	Data      *string         `json:"data"`
	DataB64   *string         `json:"data_b64"`
	Meta      *string         `json:"meta"`
	MetaB64   *string         `json:"meta_b64"`
	TimeoutMs *int64          `json:"timeout_ms"`
	ID        json.RawMessage `json:"id"`
}

func payload(s, b64 *string, what string) ([]byte, error) {
	switch {
	case s != nil && b64 != nil:
		return nil, fmt.Errorf("give %s or %s_b64, not both", what, what)
	case b64 != nil:
		b, err := base64.StdEncoding.DecodeString(*b64)
		if err != nil {
			return nil, fmt.Errorf("%s_b64: %v", what, err)
		}
		return b, nil
	case s != nil:
		return []byte(*s), nil
	default:
		return nil, fmt.Errorf("missing %s", what)
	}
}

func (c *command) timeout(def time.Duration) time.Duration {
	if c.TimeoutMs == nil {
		return def
	}
	return time.Duration(*c.TimeoutMs) * time.Millisecond
}

type peer struct {
	ml *memberlist.Memberlist
	d  *delegate
}

func (p *peer) findMember(name string) (*memberlist.Node, error) {
	for _, n := range p.ml.Members() {
		if n.Name == name {
			copied := *n
			return &copied, nil
		}
	}
	return nil, fmt.Errorf("no live member named %q", name)
}

func (p *peer) join(addrs []string, id json.RawMessage) error {
	n, err := p.ml.Join(addrs)
	obj := map[string]interface{}{"event": "joined", "contacted": n, "error": nil}
	if err != nil {
		obj["error"] = err.Error()
	}
	withID(obj, id)
	emit(obj)
	return err
}

func withID(obj map[string]interface{}, id json.RawMessage) {
	if len(id) > 0 {
		obj["id"] = id
	}
}

// run executes one command; it returns true when the program must exit.
func (p *peer) run(c *command) (exit bool, err error) {
	switch c.Cmd {
	case "members":
		obj := map[string]interface{}{"event": "members", "num_members": p.ml.NumMembers()}
		if nodes, ok := allNodes(p.ml); ok {
			obj["members"] = nodes
			obj["source"] = "all"
		} else {
			var nodes []map[string]interface{}
			for _, n := range p.ml.Members() {
				o := nodeJSON(n, false)
				o["name"] = o["node"]
				delete(o, "node")
				nodes = append(nodes, o)
			}
			obj["members"] = nodes
			obj["source"] = "public"
		}
		if obj["members"] == nil {
			obj["members"] = []interface{}{}
		}
		withID(obj, c.ID)
		emit(obj)
		return false, nil
	case "join":
		if len(c.Addrs) == 0 {
			return false, errors.New("join needs a non-empty addrs list")
		}
		return false, p.join(c.Addrs, c.ID)
	case "send_best_effort", "send_reliable":
		data, err := payload(c.Data, c.DataB64, "data")
		if err != nil {
			return false, err
		}
		n, err := p.findMember(c.To)
		if err != nil {
			return false, err
		}
		if c.Cmd == "send_reliable" {
			return false, p.ml.SendReliable(n, data)
		}
		return false, p.ml.SendBestEffort(n, data)
	case "send_to_address":
		data, err := payload(c.Data, c.DataB64, "data")
		if err != nil {
			return false, err
		}
		if c.Addr == "" {
			return false, errors.New("send_to_address needs addr")
		}
		return false, p.ml.SendToAddress(memberlist.Address{Addr: c.Addr, Name: c.To}, data)
	case "broadcast":
		data, err := payload(c.Data, c.DataB64, "data")
		if err != nil {
			return false, err
		}
		p.d.queue.QueueBroadcast(&broadcast{msg: data})
		return false, nil
	case "update_meta":
		meta, err := payload(c.Meta, c.MetaB64, "meta")
		if err != nil {
			return false, err
		}
		if len(meta) > memberlist.MetaMaxSize {
			return false, fmt.Errorf("meta is %d bytes, the limit is %d", len(meta), memberlist.MetaMaxSize)
		}
		p.d.mu.Lock()
		p.d.meta = meta
		p.d.mu.Unlock()
		return false, p.ml.UpdateNode(c.timeout(5 * time.Second))
	case "set_local_state":
		data, err := payload(c.Data, c.DataB64, "data")
		if err != nil {
			return false, err
		}
		p.d.mu.Lock()
		p.d.localState = data
		p.d.mu.Unlock()
		return false, nil
	case "leave":
		return false, p.ml.Leave(c.timeout(5 * time.Second))
	case "shutdown":
		return true, p.ml.Shutdown()
	case "stats":
		emit(benchStats(p.ml, c.To, c.ID))
		return false, nil
	case "":
		return false, errors.New("missing cmd")
	default:
		return false, fmt.Errorf("unknown cmd %q", c.Cmd)
	}
}

func main() {
	flag.CommandLine.Init("memberlist-go-peer", flag.ExitOnError)
	initStateReader()
	if !states.ok {
		fmt.Fprintf(os.Stderr, "memberlist-go-peer: note: unknown memberlist internals; reporting public Node fields only\n")
	}

	d := &delegate{}
	cfg, joinAddrs := buildConfig(d)

	ml, err := memberlist.Create(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "memberlist-go-peer: memberlist.Create failed: %v\n", err)
		os.Exit(1)
	}
	retransmit := cfg.RetransmitMult
	d.queue = &memberlist.TransmitLimitedQueue{NumNodes: ml.NumMembers, RetransmitMult: retransmit}
	p := &peer{ml: ml, d: d}

	local := ml.LocalNode()
	emit(map[string]interface{}{
		"event": "ready",
		"name":  local.Name,
		"addr":  local.Addr.String(),
		"port":  local.Port,
	})
	if len(joinAddrs) > 0 {
		_ = p.join(joinAddrs, nil)
	}

	reader := bufio.NewReader(os.Stdin)
	for {
		line, err := reader.ReadBytes('\n')
		if len(strings.TrimSpace(string(line))) > 0 {
			var c command
			if jerr := json.Unmarshal(line, &c); jerr != nil {
				emit(map[string]interface{}{"event": "error", "cmd": nil, "error": "bad command line: " + jerr.Error()})
			} else {
				exit, cerr := p.run(&c)
				obj := map[string]interface{}{"event": "ok", "cmd": c.Cmd}
				if cerr != nil {
					obj["event"] = "error"
					obj["error"] = cerr.Error()
				}
				withID(obj, c.ID)
				emit(obj)
				if exit {
					os.Exit(0)
				}
			}
		}
		if err != nil {
			// EOF (or a broken stdin): the driver is done with us.
			_ = ml.Shutdown()
			os.Exit(0)
		}
	}
}
