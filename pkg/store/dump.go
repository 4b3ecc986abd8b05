package store

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Dump writes every row of every table, one tab-separated line per row,
// tables in name order and rows sorted, from one read transaction: a
// stable text image of the database for tests and debugging (two dumps are
// equal exactly when the tables hold the same rows).
func (db *handle) Dump(ctx context.Context, w io.Writer) error {
	return db.readTx(ctx, func(tx *sql.Tx) error {
		var tables []string
		rows, err := tx.QueryContext(ctx,
			`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
		if err != nil {
			return fmt.Errorf("list tables: %w", err)
		}
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				rows.Close()
				return fmt.Errorf("list tables: %w", err)
			}
			tables = append(tables, name)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("list tables: %w", err)
		}
		for _, t := range tables {
			if err := dumpTable(ctx, tx, w, t); err != nil {
				return err
			}
		}
		return nil
	})
}

func dumpTable(ctx context.Context, tx *sql.Tx, w io.Writer, table string) error {
	// table comes from sqlite_schema; quote it as an identifier anyway.
	rows, err := tx.QueryContext(ctx, `SELECT * FROM "`+strings.ReplaceAll(table, `"`, `""`)+`"`)
	if err != nil {
		return fmt.Errorf("dump %s: %w", table, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return fmt.Errorf("dump %s: %w", table, err)
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var lines []string
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("dump %s: %w", table, err)
		}
		var b strings.Builder
		for i, v := range vals {
			if i > 0 {
				b.WriteByte('\t')
			}
			if v == nil {
				b.WriteString("NULL")
				continue
			}
			if bs, ok := v.([]byte); ok {
				v = string(bs)
			}
			fmt.Fprint(&b, v)
		}
		lines = append(lines, b.String())
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("dump %s: %w", table, err)
	}
	sort.Strings(lines)
	if _, err := fmt.Fprintf(w, "== %s (%s)\n", table, strings.Join(cols, ", ")); err != nil {
		return fmt.Errorf("dump %s: %w", table, err)
	}
	for _, l := range lines {
		if _, err := fmt.Fprintln(w, l); err != nil {
			return fmt.Errorf("dump %s: %w", table, err)
		}
	}
	return nil
}
