package bench

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Stat is one server's summary for one workload and pipeline depth: the
// medians over the rounds whose run succeeded (OK of Runs), and the
// distinct errors of the others.
type Stat struct {
	Runs   int      `json:"runs"`
	OK     int      `json:"ok"`
	RPS    float64  `json:"rps"`
	P50Ms  float64  `json:"p50_ms"`
	P99Ms  float64  `json:"p99_ms"`
	Errors []string `json:"errors,omitempty"`
}

// Row compares the servers on one workload at one pipeline depth. Each
// ratio is sessiond's median over redis's, and nil when either server has
// no successful run (or redis's figure is zero).
type Row struct {
	Workload string   `json:"workload"`
	Pipeline int      `json:"pipeline"`
	Redis    Stat     `json:"redis"`
	Sessiond Stat     `json:"sessiond"`
	RPSRatio *float64 `json:"rps_ratio,omitempty"`
	P50Ratio *float64 `json:"p50_ratio,omitempty"`
	P99Ratio *float64 `json:"p99_ratio,omitempty"`
}

// median returns the median of xs (the mean of the middle two for an even
// count), or 0 for none. xs is not modified.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	mid := len(s) / 2
	if len(s)%2 == 1 {
		return s[mid]
	}
	return (s[mid-1] + s[mid]) / 2
}

// ratio returns num/den, or nil when den is not positive or either side
// has no successful run.
func ratio(num, den float64, ok bool) *float64 {
	if !ok || den <= 0 {
		return nil
	}
	r := num / den
	return &r
}

// summarize reduces one server's samples of one workload to a Stat.
func summarize(samples []Sample) Stat {
	var st Stat
	var rps, p50, p99 []float64
	for _, s := range samples {
		st.Runs++
		if s.Error != "" {
			if !slices.Contains(st.Errors, s.Error) {
				st.Errors = append(st.Errors, s.Error)
			}
			continue
		}
		st.OK++
		rps, p50, p99 = append(rps, s.RPS), append(p50, s.P50Ms), append(p99, s.P99Ms)
	}
	st.RPS, st.P50Ms, st.P99Ms = median(rps), median(p50), median(p99)
	return st
}

// Summarize groups samples by workload and pipeline depth, in the order
// the workloads first appear and by increasing depth, and compares the
// servers on each.
func Summarize(samples []Sample) []Row {
	type key struct {
		workload string
		pipeline int
	}
	var order []string
	groups := map[key]map[string][]Sample{}
	for _, s := range samples {
		if !slices.Contains(order, s.Workload) {
			order = append(order, s.Workload)
		}
		k := key{s.Workload, s.Pipeline}
		if groups[k] == nil {
			groups[k] = map[string][]Sample{}
		}
		groups[k][s.Server] = append(groups[k][s.Server], s)
	}
	rows := make([]Row, 0, len(groups))
	for k, g := range groups {
		row := Row{Workload: k.workload, Pipeline: k.pipeline, Redis: summarize(g[Redis]), Sessiond: summarize(g[Sessiond])}
		ok := row.Redis.OK > 0 && row.Sessiond.OK > 0
		row.RPSRatio = ratio(row.Sessiond.RPS, row.Redis.RPS, ok)
		row.P50Ratio = ratio(row.Sessiond.P50Ms, row.Redis.P50Ms, ok)
		row.P99Ratio = ratio(row.Sessiond.P99Ms, row.Redis.P99Ms, ok)
		rows = append(rows, row)
	}
	slices.SortFunc(rows, func(a, b Row) int {
		return cmp.Or(
			cmp.Compare(slices.Index(order, a.Workload), slices.Index(order, b.Workload)),
			cmp.Compare(a.Pipeline, b.Pipeline))
	})
	return rows
}

// thousands formats n with comma separators: 1234567 -> "1,234,567".
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, ch := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// cell formats one Stat figure: "failed" without a successful run, and
// the count of successful runs after the figure when some failed.
func cell(st Stat, v string) string {
	switch {
	case st.OK == 0:
		return "failed"
	case st.OK < st.Runs:
		return fmt.Sprintf("%s (%d/%d)", v, st.OK, st.Runs)
	}
	return v
}

// ratioCell formats a ratio with two decimals, or an en dash when unknown.
func ratioCell(r *float64) string {
	if r == nil {
		return "–"
	}
	return fmt.Sprintf("%.2f", *r)
}

// ms formats a latency in milliseconds.
func ms(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }

// mib formats a byte count in MiB.
func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// version shortens a --version line to its "v=" value when it has one.
func version(line string) string {
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, "v="); ok {
			return v
		}
	}
	if line == "" {
		return "?"
	}
	return line
}

// Markdown renders the report as Markdown: a header describing the run,
// the throughput and latency table, the failures, and the memory table;
// for the replication suite, its three-server table and the targets; for
// the cluster suite, its two-cluster table and the targets.
func Markdown(rep *Report) string {
	switch rep.Config.Suite {
	case SuiteReplication:
		return markdownRepl(rep)
	case SuiteCluster:
		return markdownCluster(rep)
	}
	var b strings.Builder
	c, e := rep.Config, rep.Env
	pipelines := make([]string, len(c.Pipelines))
	for i, p := range c.Pipelines {
		pipelines[i] = strconv.Itoa(p)
	}
	fmt.Fprintf(&b, "## sessiond vs redis-server (%s)\n\n", rep.Started.Format(time.DateOnly))
	fmt.Fprintf(&b, "redis-server %s and sessiond %s (GOMAXPROCS=%d), each alone on CPU %s; redis-benchmark %s and the mix generator on CPU %s. ",
		version(e.RedisVersion), version(e.SessiondVersion), e.SessiondGOMAXPROCS, c.ServerCPU,
		strings.TrimPrefix(e.BenchmarkVersion, "redis-benchmark "), c.ClientCPU)
	fmt.Fprintf(&b, "%s, %d CPUs, load average %s at the start and %s at the end.\n\n", cmp.Or(e.CPUModel, "unknown CPU"), e.NumCPU, e.LoadStart, e.LoadEnd)
	rounds := rep.roundsDone()
	fmt.Fprintf(&b, "Median of %s (server order alternating, a fresh server per pass); %d clients; pipeline %s; %s random keys per dataset, prepopulated; %s requests per run at P1, %s when pipelined. ",
		rounds, c.Clients, strings.Join(pipelines, " and "), thousands(int64(c.Keys)), thousands(int64(c.Requests)), thousands(int64(c.RequestsPipelined)))
	fmt.Fprintf(&b, "MIX is 80%% HGETALL, 20%% HSET of one field + EXPIRE (one operation, two commands), from the Go generator, bounded at %s. ", c.MixTime)
	b.WriteString("Ratio = sessiond / redis: above 1 is better for req/s, worse for latency.\n\n")

	b.WriteString("| Workload | P | redis req/s | sessiond req/s | ratio | redis p50 ms | sessiond p50 ms | ratio | redis p99 ms | sessiond p99 ms | ratio |\n")
	b.WriteString("|:--|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	failures := writeRows(&b, rep.Rows, Redis, Sessiond)
	if len(failures) > 0 {
		b.WriteString("\nFailures:\n\n" + strings.Join(failures, "\n") + "\n")
	}
	if len(rep.Memory) > 0 {
		writeMemory(&b, rep.Memory)
	}
	if rep.Truncated != "" {
		fmt.Fprintf(&b, "\n**Fewer rounds than asked: %s.**\n", rep.Truncated)
	}
	if rep.Interrupted != "" {
		fmt.Fprintf(&b, "\n**Partial results: the run was interrupted (%s).**\n", rep.Interrupted)
	}
	return b.String()
}

// writeMemory renders the memory pass.
func writeMemory(b *strings.Builder, mem []MemResult) {
	fmt.Fprintf(b, "\n### Memory per session\n\n%s ten-field session hashes with a TTL, loaded pipelined into a fresh server; "+
		"bytes per session = growth over the empty server / sessions.\n\n", thousands(int64(mem[0].Sessions)))
	b.WriteString("| Server | used_memory | bytes/session | RSS | RSS bytes/session | load s |\n")
	b.WriteString("|:--|--:|--:|--:|--:|--:|\n")
	perSession := map[string][2]*float64{}
	var notes []string
	for _, m := range mem {
		used, rss, uPer, rPer := "n/a", "n/a", "n/a", "n/a"
		var pair [2]*float64
		if v, ok := m.UsedPerSession(); ok {
			used, uPer, pair[0] = mib(m.Used), fmt.Sprintf("%.0f", v), &v
		}
		if v, ok := m.RSSPerSession(); ok {
			rss, rPer, pair[1] = mib(m.RSS), fmt.Sprintf("%.0f", v), &v
		}
		perSession[m.Server] = pair
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %.1f |\n", m.Server, used, uPer, rss, rPer, m.LoadSeconds)
		if m.Error != "" {
			notes = append(notes, fmt.Sprintf("- %s: %s", m.Server, m.Error))
		} else if m.UsedError != "" {
			notes = append(notes, fmt.Sprintf("- %s used_memory: %s", m.Server, m.UsedError))
		}
	}
	ratioOf := func(i int) *float64 {
		s, r := perSession[Sessiond][i], perSession[Redis][i]
		if s == nil || r == nil {
			return nil
		}
		return ratio(*s, *r, true)
	}
	fmt.Fprintf(b, "| ratio sessiond/redis | | %s | | %s | |\n", ratioCell(ratioOf(0)), ratioCell(ratioOf(1)))
	if len(notes) > 0 {
		b.WriteString("\n" + strings.Join(notes, "\n") + "\n")
	}
}

// WriteFiles writes the report as JSON and as Markdown into dir (created
// when missing), named after the start time, and returns the JSON path.
func WriteFiles(dir string, rep *Report) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	name := "sessiond-bench-"
	if s := rep.Config.Suite; s == SuiteReplication || s == SuiteCluster {
		name += s + "-"
	}
	base := filepath.Join(dir, name+rep.Started.Format("20060102-150405"))
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(base+".json", append(js, '\n'), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(base+".md", []byte(Markdown(rep)), 0o644); err != nil {
		return "", err
	}
	return base + ".json", nil
}

// roundsDone says how many rounds the samples cover ("3 rounds").
func (rep *Report) roundsDone() string {
	done := 0
	for _, s := range rep.Samples {
		done = max(done, s.Round)
	}
	if done == 1 {
		return "1 round"
	}
	return fmt.Sprintf("%d rounds", done)
}

// writeRows writes one Markdown table row per row (req/s, p50 and p99 of
// both servers and their ratios) and returns a line for each failed run,
// naming the servers redis and sessiond.
func writeRows(b *strings.Builder, rows []Row, redis, sessiond string) []string {
	var failures []string
	for _, r := range rows {
		fmt.Fprintf(b, "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.Workload, r.Pipeline,
			cell(r.Redis, thousands(int64(math.Round(r.Redis.RPS)))), cell(r.Sessiond, thousands(int64(math.Round(r.Sessiond.RPS)))), ratioCell(r.RPSRatio),
			cell(r.Redis, ms(r.Redis.P50Ms)), cell(r.Sessiond, ms(r.Sessiond.P50Ms)), ratioCell(r.P50Ratio),
			cell(r.Redis, ms(r.Redis.P99Ms)), cell(r.Sessiond, ms(r.Sessiond.P99Ms)), ratioCell(r.P99Ratio))
		for _, side := range []struct {
			name string
			st   Stat
		}{{redis, r.Redis}, {sessiond, r.Sessiond}} {
			for _, msg := range side.st.Errors {
				failures = append(failures, fmt.Sprintf("- %s %s P%d (%d of %d runs failed): %s",
					side.name, r.Workload, r.Pipeline, side.st.Runs-side.st.OK, side.st.Runs, msg))
			}
		}
	}
	return failures
}
