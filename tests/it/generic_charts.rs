//! The generic failure charts (`system: any`): each is the best match for, and walks to its
//! conclusion over, a window of the failure it is for, and neither matches nor concludes on a
//! near-miss window of the same kind of log where nothing failed. The lines are written for these
//! tests in the shapes common loggers use (JSON lines, logfmt, journald, klog, plain text).

use logreasoner_core::flowchart::retrieve::rank;
use logreasoner_core::flowchart::walk::{walk, End, Window};
use logreasoner_core::flowchart::{self, Flowchart};

use crate::common;

struct Case {
    chart: &'static str,
    failing: &'static [&'static str],
    /// The conclusion node and cause the failing window must reach.
    concludes: (&'static str, &'static str),
    healthy: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        chart: "generic-disk-full",
        failing: &[
            r#"{"time":"2026-12-03T10:00:01Z","level":"info","msg":"flushing segment 881 to /var/lib/ingest/seg-881"}"#,
            r#"{"time":"2026-12-03T10:00:02Z","level":"error","msg":"write /var/lib/ingest/seg-881: no space left on device"}"#,
            r#"{"time":"2026-12-03T10:00:02Z","level":"error","msg":"flush failed, retrying in 5s: ENOSPC"}"#,
            r#"{"time":"2026-12-03T10:00:07Z","level":"error","msg":"write /var/lib/ingest/seg-881: no space left on device"}"#,
        ],
        concludes: ("volume-full", "capacity"),
        healthy: &[
            r#"{"time":"2026-12-03T10:00:01Z","level":"info","msg":"flushing segment 881 to /var/lib/ingest/seg-881"}"#,
            r#"{"time":"2026-12-03T10:00:02Z","level":"info","msg":"disk usage of /var/lib/ingest at 41%"}"#,
            r#"{"time":"2026-12-03T10:00:03Z","level":"info","msg":"segment 881 written, 12 MiB"}"#,
        ],
    },
    Case {
        chart: "generic-disk-full",
        failing: &[
            "Dec  3 10:04:11 db2 kernel: EXT4-fs error (device sdb1): ext4_journal_check_start:83: Detected aborted journal",
            "Dec  3 10:04:11 db2 kernel: EXT4-fs (sdb1): Remounting filesystem read-only",
            "Dec  3 10:04:12 db2 postgres[2211]: could not write to file \"pg_wal/xlogtemp.2211\": Read-only file system",
        ],
        concludes: ("disk-errors", "disk_failure"),
        healthy: &[
            "Dec  3 10:04:11 db2 kernel: EXT4-fs (sdb1): mounted filesystem with ordered data mode",
            "Dec  3 10:04:12 db2 postgres[2211]: checkpoint complete: wrote 811 buffers",
        ],
    },
    Case {
        chart: "generic-out-of-memory",
        failing: &[
            "level=info ts=2026-12-03T11:20:00Z msg=\"processing batch\" size=50000",
            "level=error ts=2026-12-03T11:20:09Z msg=\"worker crashed\" err=\"java.lang.OutOfMemoryError: Java heap space\"",
            "level=error ts=2026-12-03T11:20:09Z msg=\"batch aborted\" reason=\"GC overhead limit exceeded\"",
        ],
        concludes: ("heap-exhausted", "memory_exhaustion"),
        healthy: &[
            "level=info ts=2026-12-03T11:20:00Z msg=\"processing batch\" size=50000",
            "level=info ts=2026-12-03T11:20:09Z msg=\"gc pause\" ms=12 heap_used_mb=812 heap_max_mb=4096",
            "level=info ts=2026-12-03T11:20:10Z msg=\"batch done\" size=50000",
        ],
    },
    Case {
        chart: "generic-out-of-memory",
        failing: &[
            "I1203 11:31:02.118  1881 kubelet.go:2411] \"SyncLoop (PLEG): event for pod\" pod=\"shop/cart-7d9\" event=ContainerDied",
            "I1203 11:31:02.120  1881 kuberuntime_container.go:709] \"Container exited\" containerName=\"cart\" exitCode=137 reason=\"OOMKilled\"",
        ],
        concludes: ("over-limit", "memory_exhaustion"),
        healthy: &[
            "I1203 11:31:02.118  1881 kubelet.go:2411] \"SyncLoop (PLEG): event for pod\" pod=\"shop/cart-7d9\" event=ContainerStarted",
            "I1203 11:31:03.500  1881 prober.go:107] \"Probe succeeded\" probeType=\"Readiness\" pod=\"shop/cart-7d9\"",
        ],
    },
    Case {
        chart: "generic-tls-certificate",
        failing: &[
            "2026-12-03T12:00:00.101Z WARN  billing::client: request to https://payments.internal:8443/charge failed",
            "2026-12-03T12:00:00.102Z ERROR billing::client: tls: failed to verify certificate: x509: certificate has expired or is not yet valid: current time 2026-12-03T12:00:00Z is after 2026-12-01T00:00:00Z",
        ],
        concludes: ("cert-expired", "configuration_error"),
        healthy: &[
            "2026-12-03T12:00:00.101Z INFO  billing::client: connected to https://payments.internal:8443 (TLSv1.3)",
            "2026-12-03T12:00:00.180Z INFO  billing::client: charge 8812 accepted",
        ],
    },
    Case {
        chart: "generic-tls-certificate",
        failing: &[
            "2026-12-03 12:10:44,311 ERROR [feed-sync] javax.net.ssl.SSLHandshakeException: PKIX path building failed: unable to find valid certification path to requested target",
            "2026-12-03 12:10:44,312 ERROR [feed-sync] sync of partner feed aborted",
        ],
        concludes: ("cert-untrusted", "configuration_error"),
        healthy: &[
            "2026-12-03 12:10:44,311 INFO  [feed-sync] fetched partner feed, 88 items",
            "2026-12-03 12:10:44,312 INFO  [feed-sync] sync of partner feed done",
        ],
    },
    Case {
        chart: "generic-dns-failure",
        failing: &[
            r#"{"ts":"2026-12-03T13:02:10Z","level":"warn","msg":"dial tcp: lookup redis-main.cache.svc.cluster.local on 10.96.0.10:53: no such host"}"#,
            r#"{"ts":"2026-12-03T13:02:11Z","level":"warn","msg":"dial tcp: lookup redis-main.cache.svc.cluster.local on 10.96.0.10:53: no such host"}"#,
        ],
        concludes: ("missing-record", "configuration_error"),
        healthy: &[
            r#"{"ts":"2026-12-03T13:02:10Z","level":"info","msg":"resolved redis-main.cache.svc.cluster.local to 10.12.4.19"}"#,
            r#"{"ts":"2026-12-03T13:02:11Z","level":"info","msg":"connected to redis-main:6379"}"#,
        ],
    },
    Case {
        chart: "generic-dns-failure",
        failing: &[
            "Dec  3 13:05:00 web1 app[812]: upstream mail.example.org: Temporary failure in name resolution",
            "Dec  3 13:05:02 web1 app[812]: getaddrinfo EAI_AGAIN mail.example.org",
        ],
        concludes: ("resolver", "network_failure"),
        healthy: &[
            "Dec  3 13:05:00 web1 app[812]: sent 14 queued mails via mail.example.org",
            "Dec  3 13:05:02 web1 app[812]: queue empty",
        ],
    },
    Case {
        chart: "generic-access-denied",
        failing: &[
            "2026-12-03T14:00:01Z ERROR exporter: open /var/log/app/audit.log: permission denied",
            "2026-12-03T14:00:31Z ERROR exporter: open /var/log/app/audit.log: permission denied",
        ],
        concludes: ("missing-permission", "permission_denied"),
        healthy: &[
            "2026-12-03T14:00:01Z INFO exporter: opened /var/log/app/audit.log",
            "2026-12-03T14:00:31Z INFO exporter: shipped 120 audit events",
        ],
    },
    Case {
        chart: "generic-access-denied",
        failing: &[
            r#"{"time":"2026-12-03T14:10:00Z","level":"warn","msg":"request rejected","status":401,"error":"token has expired","client":"report-cron"}"#,
            r#"{"time":"2026-12-03T14:15:00Z","level":"warn","msg":"request rejected","status":401,"error":"token has expired","client":"report-cron"}"#,
        ],
        concludes: ("bad-credentials", "authentication_failure"),
        healthy: &[
            r#"{"time":"2026-12-03T14:10:00Z","level":"info","msg":"request served","status":200,"client":"report-cron"}"#,
            r#"{"time":"2026-12-03T14:15:00Z","level":"info","msg":"token refreshed","client":"report-cron"}"#,
        ],
    },
    Case {
        chart: "generic-crash-loop",
        failing: &[
            "Dec 03 15:00:01 api1 orders[4120]: panic: runtime error: invalid memory address or nil pointer dereference",
            "Dec 03 15:00:01 api1 systemd[1]: orders.service: Main process exited, code=exited, status=2/INVALIDARGUMENT",
            "Dec 03 15:00:06 api1 systemd[1]: orders.service: Scheduled restart job, restart counter is at 4.",
            "Dec 03 15:00:07 api1 orders[4188]: panic: runtime error: invalid memory address or nil pointer dereference",
            "Dec 03 15:00:07 api1 systemd[1]: orders.service: Main process exited, code=exited, status=2/INVALIDARGUMENT",
            "Dec 03 15:00:12 api1 systemd[1]: orders.service: Scheduled restart job, restart counter is at 5.",
        ],
        concludes: ("crashing-code", "software_bug"),
        healthy: &[
            "Dec 03 15:00:01 api1 systemd[1]: Started Orders API.",
            "Dec 03 15:00:02 api1 orders[4120]: listening on :8080",
            "Dec 03 15:00:30 api1 orders[4120]: 200 GET /healthz 1ms",
        ],
    },
    Case {
        chart: "generic-resource-exhaustion",
        failing: &[
            "2026/12/03 16:00:00 http: Accept error: accept tcp [::]:8080: accept4: too many open files; retrying in 5ms",
            "2026/12/03 16:00:00 http: Accept error: accept tcp [::]:8080: accept4: too many open files; retrying in 10ms",
        ],
        concludes: ("fd-exhausted", "resource_exhaustion"),
        healthy: &[
            "2026/12/03 16:00:00 serving on [::]:8080",
            "2026/12/03 16:00:01 open connections: 212",
        ],
    },
    Case {
        chart: "generic-resource-exhaustion",
        failing: &[
            "2026-12-03 16:05:12.003 WARN  [http-nio-8080-exec-41] c.z.h.p.HikariPool: orders-db - Connection is not available, request timed out after 30000ms.",
            "2026-12-03 16:05:12.004 ERROR [http-nio-8080-exec-41] o.h.e.j.s.SqlExceptionHelper: HikariPool-1 - Connection pool exhausted",
        ],
        concludes: ("pool-connections", "resource_exhaustion"),
        healthy: &[
            "2026-12-03 16:05:12.003 INFO  [main] c.z.h.HikariDataSource: HikariPool-1 - Start completed.",
            "2026-12-03 16:05:13.010 INFO  [http-nio-8080-exec-2] o.s.web.servlet.DispatcherServlet: Completed initialization in 2 ms",
        ],
    },
];

fn charts() -> Vec<Flowchart> {
    flowchart::valid_charts(&common::repo("flowcharts")).expect("charts")
}

fn lines(window: &[&str]) -> Vec<String> {
    window.iter().map(|l| l.to_string()).collect()
}

#[test]
fn each_generic_chart_is_chosen_for_its_failure_and_walks_to_its_conclusion() {
    let charts = charts();
    for case in CASES {
        let window = lines(case.failing);
        let ranked = rank(&charts, Window::new(&window, 1), None);
        assert_eq!(
            ranked.first().map(|m| m.chart.as_str()),
            Some(case.chart),
            "best match for {:?}: {ranked:?}",
            case.failing[0]
        );
        let chart = charts
            .iter()
            .find(|c| c.id == case.chart)
            .expect("chart shipped");
        let w = walk(chart, Window::new(&window, 1));
        match &w.end {
            End::Conclusion { node, cause, .. } => assert_eq!(
                (node.as_str(), cause.as_str()),
                case.concludes,
                "{}",
                w.describe()
            ),
            other => panic!(
                "{} did not conclude: {other:?}\n{}",
                case.chart,
                w.describe()
            ),
        }
        assert!(!w.evidence().is_empty(), "{} cites no line", case.chart);
    }
}

#[test]
fn no_generic_chart_matches_or_concludes_on_its_near_miss_window() {
    let charts = charts();
    for case in CASES {
        let window = lines(case.healthy);
        let ranked = rank(&charts, Window::new(&window, 1), None);
        assert!(
            ranked.iter().all(|m| m.chart != case.chart),
            "{} matches a healthy window: {ranked:?}",
            case.chart
        );
        let chart = charts
            .iter()
            .find(|c| c.id == case.chart)
            .expect("chart shipped");
        let w = walk(chart, Window::new(&window, 1));
        assert!(
            !matches!(w.end, End::Conclusion { .. }),
            "{} concludes on a healthy window:\n{}",
            case.chart,
            w.describe()
        );
    }
}

#[test]
fn every_generic_chart_has_both_windows() {
    for chart in charts().iter().filter(|c| c.system == "any") {
        // The dependency chart's windows are the bundled sample's (tests/it/diagnose.rs).
        if chart.id == "generic-dependency-down" {
            continue;
        }
        assert!(
            CASES.iter().any(|c| c.chart == chart.id),
            "{} has no test windows here",
            chart.id
        );
    }
}
