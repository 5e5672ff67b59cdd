//! Timestamps of the 16 Loghub formats (and ISO-like ones generally), as seconds on one axis so that
//! lines of one file can be compared. Formats without a year (syslog, Android, Proxifier) are placed in
//! the year 2000: differences within a file stay right except across a new year.

use std::sync::OnceLock;

use regex::Regex;

use crate::time::days_from_civil;

struct Format {
    re: Regex,
    to_seconds: fn(&regex::Captures) -> Option<i64>,
}

fn num(c: &regex::Captures, i: usize) -> Option<i64> {
    c.get(i)?.as_str().parse().ok()
}

fn at(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64) -> Option<i64> {
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(y, mo as u32, d as u32) * 86_400 + h * 3600 + mi * 60 + s)
}

fn month(name: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    MONTHS.iter().position(|m| *m == name).map(|i| i as i64 + 1)
}

fn formats() -> &'static [Format] {
    static FORMATS: OnceLock<Vec<Format>> = OnceLock::new();
    FORMATS.get_or_init(|| {
        let f = |re: &str, to_seconds: fn(&regex::Captures) -> Option<i64>| Format {
            // The patterns are literals of this file; a test compiles every one.
            re: Regex::new(re).unwrap_or_else(|e| panic!("timestamp pattern {re}: {e}")),
            to_seconds,
        };
        vec![
            // BGL and Thunderbird: "- 1117838570 2005.06.03 ..."
            f(r"^\S+ (\d{10}) \d{4}\.\d{2}\.\d{2} ", |c| num(c, 1)),
            // HPC: "134681 node-246 unix.hw state_change.unavailable 1077804742 1 ..."
            f(r"^\d+ \S+ \S+ \S+ (\d{10}) \d+ ", |c| num(c, 1)),
            // HDFS: "081109 203615 148 INFO"
            f(r"^(\d{2})(\d{2})(\d{2}) (\d{2})(\d{2})(\d{2}) ", |c| {
                at(
                    2000 + num(c, 1)?,
                    num(c, 2)?,
                    num(c, 3)?,
                    num(c, 4)?,
                    num(c, 5)?,
                    num(c, 6)?,
                )
            }),
            // Spark: "17/06/09 20:10:40"
            f(r"^(\d{2})/(\d{2})/(\d{2}) (\d{2}):(\d{2}):(\d{2})", |c| {
                at(
                    2000 + num(c, 1)?,
                    num(c, 2)?,
                    num(c, 3)?,
                    num(c, 4)?,
                    num(c, 5)?,
                    num(c, 6)?,
                )
            }),
            // Apache: "[Sun Dec 04 04:47:44 2005]"
            f(
                r"^\[\w{3} (\w{3}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4})\]",
                |c| {
                    at(
                        num(c, 6)?,
                        month(c.get(1)?.as_str())?,
                        num(c, 2)?,
                        num(c, 3)?,
                        num(c, 4)?,
                        num(c, 5)?,
                    )
                },
            ),
            // syslog (Linux, OpenSSH, Mac): "Jun 14 15:16:01"
            f(r"^(\w{3}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) ", |c| {
                at(
                    2000,
                    month(c.get(1)?.as_str())?,
                    num(c, 2)?,
                    num(c, 3)?,
                    num(c, 4)?,
                    num(c, 5)?,
                )
            }),
            // HealthApp: "20171223-22:15:29:606|"
            f(
                r"^(\d{4})(\d{2})(\d{2})-(\d{1,2}):(\d{1,2}):(\d{1,2})",
                |c| {
                    at(
                        num(c, 1)?,
                        num(c, 2)?,
                        num(c, 3)?,
                        num(c, 4)?,
                        num(c, 5)?,
                        num(c, 6)?,
                    )
                },
            ),
            // Android: "03-17 16:13:38.811"
            f(r"^(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})\.\d+ ", |c| {
                at(
                    2000,
                    num(c, 1)?,
                    num(c, 2)?,
                    num(c, 3)?,
                    num(c, 4)?,
                    num(c, 5)?,
                )
            }),
            // Proxifier: "[10.30 16:49:06]"
            f(r"^\[(\d{2})\.(\d{2}) (\d{2}):(\d{2}):(\d{2})\]", |c| {
                at(
                    2000,
                    num(c, 1)?,
                    num(c, 2)?,
                    num(c, 3)?,
                    num(c, 4)?,
                    num(c, 5)?,
                )
            }),
            // ISO-like anywhere in the first 80 bytes: Hadoop, Zookeeper, OpenStack, Windows, and most
            // modern logs ("2015-10-18 18:01:47,978", "2017-05-16 00:00:00.008", "2016-09-28T04:30:30").
            f(r"(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})", |c| {
                at(
                    num(c, 1)?,
                    num(c, 2)?,
                    num(c, 3)?,
                    num(c, 4)?,
                    num(c, 5)?,
                    num(c, 6)?,
                )
            }),
        ]
    })
}

/// Seconds of the line's timestamp, if it has a recognisable one near its start.
pub fn parse(line: &str) -> Option<i64> {
    let head = match line.char_indices().nth(80) {
        Some((i, _)) => &line[..i],
        None => line,
    };
    formats()
        .iter()
        .find_map(|f| f.re.captures(head).and_then(|c| (f.to_seconds)(&c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_loghub_format_has_its_time() {
        let base = |y, mo, d, h, mi, s| at(y, mo, d, h, mi, s).expect("valid");
        let cases = [
            (
                "081109 203615 148 INFO dfs.DataNode$PacketResponder: x",
                base(2008, 11, 9, 20, 36, 15),
            ),
            (
                "2015-10-18 18:01:47,978 INFO [main] org.apache.hadoop: x",
                base(2015, 10, 18, 18, 1, 47),
            ),
            (
                "17/06/09 20:10:40 INFO executor.CoarseGrainedExecutorBackend: x",
                base(2017, 6, 9, 20, 10, 40),
            ),
            (
                "2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:x",
                base(2015, 7, 29, 17, 41, 44),
            ),
            (
                "- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02",
                1_117_838_570,
            ),
            (
                "134681 node-246 unix.hw state_change.unavailable 1077804742 1 Component",
                1_077_804_742,
            ),
            (
                "- 1131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond",
                1_131_566_461,
            ),
            (
                "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure",
                base(2000, 6, 14, 15, 16, 1),
            ),
            (
                "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster",
                base(2000, 12, 10, 6, 55, 46),
            ),
            (
                "Jul  1 09:00:55 calvisitor-10-105-160-95 kernel[0]: x",
                base(2000, 7, 1, 9, 0, 55),
            ),
            (
                "[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok",
                base(2005, 12, 4, 4, 47, 44),
            ),
            (
                "nova-api.log.1.2017-05-16_13:53:08 2017-05-16 00:00:00.008 25746 INFO",
                base(2017, 5, 16, 0, 0, 0),
            ),
            (
                "2016-09-28 04:30:30, Info                  CBS    Loaded",
                base(2016, 9, 28, 4, 30, 30),
            ),
            (
                "03-17 16:13:38.811  1702  2395 D WindowManager: x",
                base(2000, 3, 17, 16, 13, 38),
            ),
            (
                "20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579",
                base(2017, 12, 23, 22, 15, 29),
            ),
            (
                "[10.30 16:49:06] chrome.exe - proxy.cse.cuhk.edu.hk:5070 open",
                base(2000, 10, 30, 16, 49, 6),
            ),
        ];
        for (line, want) in cases {
            assert_eq!(parse(line), Some(want), "{line}");
        }
    }

    #[test]
    fn lines_without_a_time_have_none() {
        assert_eq!(
            parse("GM: Could not open port because LANai is not running."),
            None
        );
        assert_eq!(parse(""), None);
        assert_eq!(parse("99/99/99 99:99:99 impossible"), None);
    }
}
