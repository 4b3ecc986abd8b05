package conntrack_test

import (
	"fmt"
	"strings"

	"github.com/netmon-dev/netmon/pkg/conntrack"
)

func ExampleParseLine() {
	e, err := conntrack.ParseLine([]byte("ipv4     2 tcp      6 431997 ESTABLISHED src=10.0.0.6 dst=203.0.113.80 sport=33857 dport=443 packets=6 bytes=330 src=203.0.113.80 dst=203.0.113.1 sport=443 dport=33857 packets=5 bytes=20268 [ASSURED] mark=0 use=1"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(conntrack.KeyOf(&e), e.State, e.Status, e.Orig.Bytes, e.Reply.Bytes)

	_, err = conntrack.ParseLine([]byte("ipv4     2 udp      17 27 src=10.0.0.5 dst=203.0.113.256 sport=41467 dport=53"))
	fmt.Println(err)
	// Output:
	// tcp|10.0.0.6|33857|203.0.113.80|443 ESTABLISHED ASSURED 330 20268
	// line 0 col 44: dst: not an IP address
}

func ExampleParse() {
	table := `ipv4     2 udp      17 27 src=10.0.0.5 dst=203.0.113.80 sport=41467 dport=53 packets=1 bytes=68 src=203.0.113.80 dst=203.0.113.1 sport=53 dport=41467 packets=1 bytes=148 mark=0 use=1
ipv4     2 icmp     1 29 src=10.0.0.5 dst=203.0.113.80 type=8 code=0 id=4660 packets=3 bytes=252 src=203.0.113.80 dst=203.0.113.1 type=0 code=0 id=4660 packets=3 bytes=252 mark=0 use=1
garbage
conntrack v1.4.7 (conntrack-tools): 3 flow entries have been shown.
`
	var keys []string
	st, err := conntrack.Parse(strings.NewReader(table), func(e *conntrack.Entry) bool {
		keys = append(keys, conntrack.KeyOf(e).String()) // copy: e is reused
		return true
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(keys)
	fmt.Println(st.Lines, st.Entries, st.Skipped, st.Reported, st.TrailerMismatch(), st.Errors[0])
	// Output:
	// [udp|10.0.0.5|41467|203.0.113.80|53 icmp|10.0.0.5|4660|203.0.113.80|8]
	// 3 2 1 3 false line 3 col 8: proto: missing protocol number
}
