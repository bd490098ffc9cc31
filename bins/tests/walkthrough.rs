//! The README's five-minute walkthrough, run as written: the commands of its
//! `console` blocks are read from README.md, every port in them is swapped for one
//! picked now, and each command runs in order: the servers as processes of this
//! build, `printf ... | nc` and `curl` as the same bytes over a socket. The lines the
//! README shows after a command are its expected output (a line ending in ` ...`
//! is a prefix); a command is repeated until its output matches, as a person
//! would look again, or the test fails after 20 s.

mod support;

use std::collections::HashMap;
use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::{free_port, read_until, wait_for};

/// One `$ ` line of the walkthrough, with what the README shows after it.
struct Step {
    command: String,
    /// The here-document of a `cat > FILE <<'EOF'` line.
    heredoc: Vec<String>,
    expected: Vec<String>,
}

/// The `console` blocks of the README's walkthrough section, as steps.
fn walkthrough_steps() -> Vec<Step> {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with("A five-minute walkthrough"))
        .expect("README.md has a walkthrough section");
    let mut steps: Vec<Step> = Vec::new();
    let (mut in_block, mut in_heredoc) = (false, false);
    for line in section.lines() {
        if line.starts_with("```") {
            in_block = line == "```console";
            continue;
        }
        if !in_block {
            continue;
        }
        if in_heredoc {
            in_heredoc = line != "EOF";
            if in_heredoc {
                steps.last_mut().unwrap().heredoc.push(line.to_owned());
            }
        } else if let Some(command) = line.strip_prefix("$ ") {
            in_heredoc = command.contains("<<'EOF'");
            steps.push(Step {
                command: command.to_owned(),
                heredoc: Vec::new(),
                expected: Vec::new(),
            });
        } else {
            let step = steps.last_mut().expect("output follows a command");
            step.expected.push(line.to_owned());
        }
    }
    steps
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every port the walkthrough names (after `127.0.0.1:`, `-p`, `-X`, `--admin`, or
/// `nc -N 127.0.0.1`), each mapped to a free port picked now.
fn ports(steps: &[Step]) -> HashMap<String, String> {
    let mut text = String::new();
    for step in steps {
        text.push_str(&step.command.replace("nc -N 127.0.0.1 ", "127.0.0.1:"));
        text.push('\n');
        text.push_str(&step.heredoc.join("\n"));
        text.push('\n');
    }
    let mut map = HashMap::new();
    for marker in ["127.0.0.1:", "-p ", "-X ", "--admin "] {
        for (at, _) in text.match_indices(marker) {
            let rest = &text[at + marker.len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if digits.len() >= 4 && !map.contains_key(&digits) {
                let port = loop {
                    let p = free_port().to_string();
                    if !map.values().any(|v| *v == p) {
                        break p;
                    }
                };
                map.insert(digits, port);
            }
        }
    }
    map
}

/// `text` with every run of digits that is a walkthrough port replaced.
fn with_ports(text: &str, ports: &HashMap<String, String>) -> String {
    let mut out = String::new();
    let mut digits = String::new();
    for c in text.chars().chain(std::iter::once('\n')) {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        out.push_str(ports.get(&digits).unwrap_or(&digits));
        digits.clear();
        out.push(c);
    }
    out.pop();
    out
}

/// The processes the walkthrough started, killed when the test ends.
struct Shell {
    dir: PathBuf,
    children: Vec<(Option<String>, Child, PathBuf)>,
}

impl Drop for Shell {
    fn drop(&mut self) {
        for (_, child, _) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Shell {
    /// `memkeepd ... & A=$!`: starts the program, remembering it as `A`.
    fn start(&mut self, command: &str) {
        let (command, var) = command.split_once('&').unwrap();
        let var = var.trim().strip_suffix("=$!").map(str::to_owned);
        let mut args = command.split_whitespace();
        let program = args.next().unwrap();
        let log = self
            .dir
            .join(format!("{program}-{}.log", self.children.len()));
        let child = Command::new(binary(program))
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        self.children.push((var, child, log));
    }

    /// `kill -9 $A` or `kill $(jobs -p)`.
    fn kill(&mut self, command: &str) {
        let var = command.rsplit_once('$').unwrap().1;
        for (name, child, _) in &mut self.children {
            if var == "(jobs -p)" || name.as_deref() == Some(var) {
                let _ = child.kill();
                let _ = child.wait();
                *name = None;
            }
        }
    }

    /// What the started processes logged, for a failure message.
    fn logs(&self) -> String {
        let mut out = String::new();
        for (_, _, log) in &self.children {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            out.push_str(&format!("--- {}\n{text}", log.display()));
        }
        out
    }

    /// Runs a command that prints something and returns its output.
    fn output(&self, command: &str) -> String {
        let (command, filter) = match command.split_once(" | grep ") {
            Some((c, f)) => (c, Some(f.trim_matches('\''))),
            None => (command, None),
        };
        let output = if let Some(rest) = command.strip_prefix("printf '") {
            let (bytes, target) = rest.split_once("' | nc -N ").unwrap();
            let (host, port) = target.split_once(' ').unwrap();
            let bytes = bytes.replace("\\r", "\r").replace("\\n", "\n");
            exchange(&format!("{host}:{port}"), bytes.as_bytes())
        } else if let Some(url) = command.strip_prefix("curl -s ") {
            let url = url.trim_start_matches("http://");
            let (addr, path) = url.split_at(url.find('/').unwrap_or(url.len()));
            let path = if path.is_empty() { "/" } else { path };
            let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
            let reply = exchange(addr, request.as_bytes());
            reply
                .split_once("\r\n\r\n")
                .map_or(String::new(), |(_, body)| body.to_owned())
        } else if let Some(args) = command.strip_prefix("memkeep ") {
            let out = Command::new(binary("memkeep"))
                .args(args.split_whitespace())
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        } else {
            panic!("the walkthrough test does not know how to run `{command}`");
        };
        match filter {
            Some(text) => output
                .lines()
                .filter(|l| l.contains(text))
                .map(|l| format!("{l}\n"))
                .collect(),
            None => output,
        }
    }
}

fn binary(program: &str) -> &'static str {
    match program {
        "memkeepd" => env!("CARGO_BIN_EXE_memkeepd"),
        "memkeep-proxy" => env!("CARGO_BIN_EXE_memkeep-proxy"),
        "memkeep" => env!("CARGO_BIN_EXE_memkeep"),
        other => panic!("the walkthrough runs no {other}"),
    }
}

/// Sends `bytes`, closes the sending side (as `nc -N` does) and reads until the
/// server closes; empty when nothing listens yet.
fn exchange(addr: &str, bytes: &[u8]) -> String {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return String::new();
    };
    if stream.write_all(bytes).is_err() || stream.shutdown(Shutdown::Write).is_err() {
        return String::new();
    }
    let (reply, _) = read_until(&mut stream, Duration::from_secs(5), |_| false);
    String::from_utf8_lossy(&reply).into_owned()
}

/// Whether `actual` shows what the README shows: the same lines, spaces aside, a
/// line ending in ` ...` standing for any line that starts with the rest.
fn matches(expected: &[String], actual: &str) -> bool {
    let squeeze = |l: &str| l.split_whitespace().collect::<Vec<_>>().join(" ");
    let actual: Vec<String> = actual.lines().map(squeeze).collect();
    actual.len() == expected.len()
        && expected.iter().zip(&actual).all(|(e, a)| {
            let e = squeeze(e);
            match e.strip_suffix(" ...") {
                Some(prefix) => a.starts_with(prefix),
                None => *a == e,
            }
        })
}

#[test]
fn the_readme_walkthrough_does_what_it_says() {
    let steps = walkthrough_steps();
    assert!(steps.len() >= 10, "the walkthrough has its steps");
    let ports = ports(&steps);
    let dir = std::env::temp_dir().join(format!("memkeep-walkthrough-{}", free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut shell = Shell {
        dir,
        children: Vec::new(),
    };
    let mut checked = 0;
    for step in &steps {
        let command = with_ports(&step.command, &ports);
        let expected: Vec<String> = step
            .expected
            .iter()
            .map(|l| with_ports(l, &ports))
            .collect();
        if let Some(file) = command.strip_prefix("cat > ") {
            let file = file.split_whitespace().next().unwrap();
            let text = with_ports(&step.heredoc.join("\n"), &ports) + "\n";
            std::fs::write(shell.dir.join(file), text).unwrap();
        } else if command.starts_with("kill ") {
            shell.kill(&command);
        } else if command.ends_with('&') || command.ends_with("=$!") {
            shell.start(&command);
        } else {
            let mut last = String::new();
            let ok = wait_for(Duration::from_secs(20), || {
                last = shell.output(&command);
                matches(&expected, &last)
            });
            assert!(
                ok,
                "`{command}` printed\n{last}\nwhere the README shows\n{}\n{}",
                expected.join("\n"),
                shell.logs()
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 8,
        "every output the walkthrough shows was checked"
    );
}
