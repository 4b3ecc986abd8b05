package source_test

import (
	"context"
	"fmt"

	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/source"
)

func ExampleFile() {
	src := &source.File{Path: "../../fixtures/conntrack/small_mixed.txt"}
	var (
		st       conntrack.Stats
		outbound int
	)
	for e, err := range src.List(context.Background(), &st) {
		if err != nil {
			fmt.Println(err)
			return
		}
		if e.Orig.Src.IsPrivate() && !e.Orig.Dst.IsPrivate() {
			outbound++
		}
	}
	fmt.Println(st.Entries, outbound)
	// Output:
	// 29 22
}
