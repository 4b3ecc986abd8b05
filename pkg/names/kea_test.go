package names

import (
	"strings"
	"testing"
)

func TestKeaReplayOrder(t *testing.T) {
	in := "address,hwaddr,valid_lifetime,expire,hostname,state\n" +
		"10.0.0.5,00:1b:21:3a:4b:5c,3600,100,first,0\n" +
		"10.0.0.5,00:1b:21:3a:4b:5c,0,100,first,0\n" + // released
		"10.0.0.5,00:1b:21:3a:4b:5d,3600,200,second,0\n" + // leased again, to another
		// A rotated file starts again with its header, columns in another order.
		"address,hostname,hwaddr,valid_lifetime,expire,state\n" +
		"10.0.0.6,third,00:1b:21:3a:4b:5e,3600,300,0\n" +
		"10.0.0.7,short\n"
	var st Stats
	ls, err := ParseKea(strings.NewReader(in), &st)
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 2 || ls[0].Name != "second" || ls[1].Name != "third" || st.Skipped != 1 {
		t.Errorf("leases %+v, stats %+v; want second and third, one skipped", ls, st)
	}
	if _, err := ParseKea(strings.NewReader("10.0.0.5,00:1b:21:3a:4b:5c,3600,100,x,0\n"), &st); err != nil {
		t.Fatal(err)
	}
}
