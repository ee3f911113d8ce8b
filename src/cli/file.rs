//! `--config FILE`: a TOML file that sets a binary's flags, for a systemd unit or a container
//! that should not need a long command line.
//!
//! The file's keys are the binary's long flags without the dashes, and each value goes
//! through that flag's own parser. There is no second list of settings to keep in step with
//! the flags: the keys are read off the clap command itself, so a flag added to
//! [`NodeArgs`](super::NodeArgs) or to a binary's own arguments is a key at once, with the
//! same rules and the same error texts.
//!
//! ```toml
//! name = "web-1"
//! bind = "10.0.0.5:7946"
//! join = ["seed-1.internal:7946", "seed-2.internal:7946"]
//! retry-join = true
//! profile = "lan"
//! probe-interval = "500ms"
//! tag = { role = "web", zone = "a" }
//! ```
//!
//! A single value is a string, number or boolean; a repeatable flag also takes a list, or a
//! table whose entries stand for `KEY=VALUE` values; a switch (`retry-join`) takes `true` or
//! `false`. A flag on the command line replaces its key's value from the file, a list
//! included.
//!
//! The file holds shell commands (`on-event`) that the agent runs, so it must be as safe as a
//! script the service would run: owned by this user or root, not writable by group or others,
//! in a folder others cannot write to (see [`check_owned_file`]). Anything else is refused,
//! naming the file and the reason.

use std::ffi::OsString;
use std::fmt;
use std::fs::Metadata;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command, Parser};
use toml::{Table, Value};

/// The id of the argument that names the file (the `config` field of `NodeArgs`).
const CONFIG: &str = "config";

/// Why a binary's arguments were refused: by clap (flags), or in the config file.
#[derive(Debug)]
pub enum ArgsError {
    /// A bad flag or flag value, or a request for help or the version (clap's own error,
    /// which prints the help and exits 0 for those).
    Flags(clap::Error),
    /// The config file could not be read, is not TOML, or has a bad key or value.
    File(ConfigFileError),
}

impl ArgsError {
    /// Prints the error (or the help) and exits: 2 for a bad flag or file, as clap does.
    pub fn exit(self, bin: &str) -> ! {
        match self {
            ArgsError::Flags(e) => e.exit(),
            ArgsError::File(e) => {
                eprintln!("{bin}: {e}");
                std::process::exit(2)
            }
        }
    }
}

impl fmt::Display for ArgsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgsError::Flags(e) => e.fmt(f),
            ArgsError::File(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ArgsError {}

impl From<clap::Error> for ArgsError {
    fn from(e: clap::Error) -> Self {
        ArgsError::Flags(e)
    }
}

/// What is wrong with a config file; each names the file, and the key where there is one.
#[derive(Debug)]
pub enum ConfigFileError {
    /// The file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        error: io::Error,
    },
    /// The file is not valid TOML.
    Toml {
        /// The file.
        path: PathBuf,
        /// The parser's message, with the line and the column.
        message: String,
    },
    /// A key that is no flag of this binary.
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// The key it probably meant (`probe_interval` for `probe-interval`).
        hint: Option<String>,
    },
    /// A value its flag refuses, or of the wrong shape (a list for a single value).
    BadValue {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// The value, as written in the file.
        value: String,
        /// The rule it breaks.
        reason: String,
    },
    /// Another user could change the file (its owner, mode or folder): it is not used.
    Unsafe {
        /// The file.
        path: PathBuf,
        /// Who else could change it, and how to fix that; names the folder when it is the
        /// folder.
        reason: String,
    },
}

impl fmt::Display for ConfigFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigFileError::Read { path, error } => {
                write!(f, "cannot read the config file {}: {error}", path.display())
            }
            ConfigFileError::Toml { path, message } => write!(
                f,
                "the config file {} is not valid TOML: {}",
                path.display(),
                message.trim_end()
            ),
            ConfigFileError::UnknownKey { path, key, hint } => {
                write!(f, "config file {}: unknown key `{key}`", path.display())?;
                if let Some(hint) = hint {
                    write!(f, " (did you mean `{hint}`?)")?;
                }
                f.write_str("; the keys are the long flags without `--`, as --help lists them")
            }
            ConfigFileError::BadValue {
                path,
                key,
                value,
                reason,
            } => write!(
                f,
                "config file {}: invalid value {value} for key `{key}`: {reason}",
                path.display()
            ),
            ConfigFileError::Unsafe { path, reason } => write!(
                f,
                "config file {} not used: {reason} (it holds commands the agent runs)",
                path.display()
            ),
        }
    }
}

impl std::error::Error for ConfigFileError {}

/// Parses the process's arguments as `P`, with the settings of the file `--config` names (if
/// it is given) beneath the command line's; on an error prints it and exits 2 (0 for `--help`
/// and `--version`), like clap's own `parse`.
pub fn parse<P: Parser>() -> P {
    try_parse_from(std::env::args_os()).unwrap_or_else(|e| e.exit(P::command().get_name()))
}

/// Like [`parse`], from the given arguments (the first is the program's name), returning the
/// error instead of exiting.
///
/// The file applies to the command that takes `--config`: the last subcommand given, or `P`
/// itself without one.
pub fn try_parse_from<P, I, T>(args: I) -> Result<P, ArgsError>
where
    P: Parser,
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let mut argv: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let mut cmd = P::command();
    cmd.build();
    let matches = cmd.clone().try_get_matches_from(&argv)?;
    let (mut sub, mut sub_matches) = (&cmd, &matches);
    while let Some((name, m)) = sub_matches.subcommand() {
        match sub.find_subcommand(name) {
            Some(s) => (sub, sub_matches) = (s, m),
            None => break,
        }
    }
    if let Ok(Some(path)) = sub_matches.try_get_one::<PathBuf>(CONFIG) {
        let table = read(path).map_err(ArgsError::File)?;
        // Appended, so they land in the command that took --config; none of them is also on
        // the command line, so nothing is given twice.
        argv.extend(file_args(sub, sub_matches, path, &table).map_err(ArgsError::File)?);
    }
    Ok(P::try_parse_from(argv)?)
}

fn read(path: &Path) -> Result<Table, ConfigFileError> {
    let unsafe_file = |reason| ConfigFileError::Unsafe {
        path: path.to_path_buf(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|error| ConfigFileError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    check_owned_file(path, &meta).map_err(unsafe_file)?;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(unsafe_file(format!(
            "mode {mode:04o} makes it writable by group or others; chmod go-w it"
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|error| ConfigFileError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    text.parse::<Table>().map_err(|e| ConfigFileError::Toml {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// The file's settings as `--key=value` arguments, each value checked by its flag's parser,
/// leaving out the keys whose flag the command line gave.
fn file_args(
    cmd: &Command,
    given: &ArgMatches,
    path: &Path,
    table: &Table,
) -> Result<Vec<OsString>, ConfigFileError> {
    let bad = |key: &str, value: &dyn fmt::Display, reason: String| ConfigFileError::BadValue {
        path: path.to_path_buf(),
        key: key.to_string(),
        value: value.to_string(),
        reason,
    };
    let mut out = Vec::new();
    for (key, value) in table {
        let Some(arg) = settable(cmd).find(|a| a.get_long() == Some(key.as_str())) else {
            let hint = key.replace('_', "-");
            let known = settable(cmd).any(|a| a.get_long() == Some(hint.as_str()));
            return Err(ConfigFileError::UnknownKey {
                path: path.to_path_buf(),
                key: key.clone(),
                hint: known.then_some(hint),
            });
        };
        if arg.get_id() == CONFIG {
            let why = "a config file cannot name another one".to_string();
            return Err(bad(key, value, why));
        }
        if given.value_source(arg.get_id().as_str()) == Some(ValueSource::CommandLine) {
            continue;
        }
        match arg.get_action() {
            ArgAction::SetTrue | ArgAction::SetFalse => {
                let Value::Boolean(on) = value else {
                    return Err(bad(key, value, "is a switch: true or false".into()));
                };
                if *on == matches!(arg.get_action(), ArgAction::SetTrue) {
                    out.push(OsString::from(format!("--{key}")));
                }
            }
            action => {
                let texts = values(value, matches!(action, ArgAction::Append))
                    .map_err(|why| bad(key, value, why))?;
                for text in texts {
                    check(cmd, key, &text).map_err(|why| bad(key, value, why))?;
                    out.push(OsString::from(format!("--{key}={text}")));
                }
            }
        }
    }
    Ok(out)
}

/// The arguments a file may set: every long option but help and version.
fn settable(cmd: &Command) -> impl Iterator<Item = &Arg> {
    cmd.get_arguments().filter(|a| {
        a.get_long().is_some()
            && !matches!(
                a.get_action(),
                ArgAction::Help | ArgAction::HelpShort | ArgAction::HelpLong | ArgAction::Version
            )
    })
}

/// The texts a value stands for: one for a single value; with `repeatable`, one per list item
/// or `KEY=VALUE` per table entry.
fn values(value: &Value, repeatable: bool) -> Result<Vec<String>, String> {
    let one = |v: &Value| scalar(v).ok_or_else(|| "a list may hold only single values".to_string());
    match value {
        Value::Array(items) if repeatable => items.iter().map(one).collect(),
        Value::Table(entries) if repeatable => entries
            .iter()
            .map(|(k, v)| one(v).map(|v| format!("{k}={v}")))
            .collect(),
        Value::Array(_) | Value::Table(_) => Err("takes a single value, not a list".into()),
        v => Ok(vec![one(v)?]),
    }
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Integer(i) => Some(i.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Boolean(b) => Some(b.to_string()),
        Value::Datetime(d) => Some(d.to_string()),
        Value::Array(_) | Value::Table(_) => None,
    }
}

/// Runs `--key=text` alone through the command, so the flag's own parser judges the value;
/// the error is the parser's reason. Errors that are about other flags (one this one
/// requires) are left to the parse of the whole command line.
fn check(cmd: &Command, key: &str, text: &str) -> Result<(), String> {
    let alone = [OsString::from(format!("--{key}={text}"))];
    match cmd.clone().no_binary_name(true).try_get_matches_from(alone) {
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::ValueValidation | ErrorKind::InvalidValue
            ) =>
        {
            Err(reason(&e))
        }
        _ => Ok(()),
    }
}

/// The rule from a clap value error: the parser's own message where there is one (clap's
/// rendering names the flag, and the file's user wrote a key).
fn reason(e: &clap::Error) -> String {
    match std::error::Error::source(e) {
        Some(inner) => inner.to_string(),
        None => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default();
            first.trim_start_matches("error: ").to_string()
        }
    }
}

/// Checks what a file the agent trusts (the config file, the key file) needs besides its own
/// mode: `meta` (the file's, symlinks followed) owned by this user or root, and the folder it
/// is in (and, for a symlink, the folder of the real file) owned by this user or root and not
/// writable by group or others, unless sticky (as /tmp is: there nobody can remove or rename
/// another user's file). Otherwise someone else could replace what the agent reads. The error
/// gives the reason, naming the folder when it is the folder's; the caller names the file.
pub(crate) fn check_owned_file(path: &Path, meta: &Metadata) -> Result<(), String> {
    let me = process_uid();
    if meta.uid() != 0 && Some(meta.uid()) != me {
        return Err(format!(
            "owned by user {}, not by this user or root; chown it",
            meta.uid()
        ));
    }
    let given = path.parent().map(|p| {
        if p.as_os_str().is_empty() {
            Path::new(".").to_path_buf()
        } else {
            p.to_path_buf()
        }
    });
    let real = std::fs::canonicalize(path)
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf));
    for folder in given
        .iter()
        .chain(real.iter().filter(|r| Some(*r) != given.as_ref()))
    {
        let Ok(fmeta) = std::fs::metadata(folder) else {
            continue;
        };
        let shown = folder.display();
        if fmeta.uid() != 0 && Some(fmeta.uid()) != me {
            return Err(format!(
                "its folder {shown} is owned by user {}, who could replace the file",
                fmeta.uid()
            ));
        }
        let mode = fmeta.permissions().mode() & 0o7777;
        let sticky = mode & 0o1000 != 0;
        if mode & 0o022 != 0 && !sticky {
            return Err(format!(
                "its folder {shown} (mode {mode:04o}) is writable by others, who could \
                 replace the file; chmod go-w the folder"
            ));
        }
    }
    Ok(())
}

/// This process's user id: the owner of its own `/proc` entry (the crate denies the unsafe
/// `getuid`); `None` where there is no /proc, and then only root's files pass.
fn process_uid() -> Option<u32> {
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use clap::{Args, CommandFactory, Subcommand};

    use super::*;
    use crate::cli::NodeArgs;

    /// A binary like `rumor`: node options and flags of its own, under a subcommand.
    #[derive(Parser, Debug)]
    struct Bin {
        #[command(subcommand)]
        command: Sub,
    }

    #[derive(Subcommand, Debug)]
    enum Sub {
        Run(RunArgs),
    }

    #[derive(Args, Debug)]
    struct RunArgs {
        #[command(flatten)]
        node: NodeArgs,
        /// Repeatable, as `--on-event` is.
        #[arg(long)]
        hook: Vec<String>,
        #[arg(long)]
        verbose: bool,
    }

    /// A file of the test's own in the temp folder, removed on drop.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(text: &str) -> TempFile {
            static N: AtomicU32 = AtomicU32::new(0);
            let name = format!(
                "rumor-cli-file-{}-{}.toml",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            );
            let path = std::env::temp_dir().join(name);
            std::fs::write(&path, text).unwrap();
            TempFile(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn parse(file: &str, flags: &[&str]) -> Result<RunArgs, ArgsError> {
        let file = TempFile::new(file);
        let path = file.0.to_str().unwrap();
        let argv = ["bin", "run", "--config", path]
            .into_iter()
            .chain(flags.iter().copied());
        try_parse_from::<Bin, _, _>(argv).map(|b| match b.command {
            Sub::Run(args) => args,
        })
    }

    fn file_error(file: &str) -> ConfigFileError {
        match parse(file, &[]) {
            Err(ArgsError::File(e)) => e,
            other => panic!("{file}: expected a file error, got {other:?}"),
        }
    }

    #[test]
    fn keys_are_the_flags_with_their_own_parsers() {
        let args = parse(
            "name = \"n1\"\nprofile = \"test\"\nprobe-interval = \"200ms\"\nsuspicion-mult = 6\n\
             join = [\"127.0.0.1:7000\", \"seed.internal:7946\"]\nretry-join = true\n\
             tag = { role = \"db\", zone = \"a\" }\nhook = \"x\"\nverbose = true\n",
            &[],
        )
        .unwrap();
        assert!(args.verbose);
        assert_eq!(args.hook, ["x"]);
        let c = args.node.into_config().unwrap();
        assert_eq!(c.name, "n1");
        assert_eq!(c.probe_interval, Duration::from_millis(200));
        assert_eq!(c.suspicion_mult, 6);
        assert_eq!(c.seeds, ["127.0.0.1:7000".parse().unwrap()]);
        assert_eq!(c.seed_hosts, ["seed.internal:7946"]);
        assert!(c.retry_join.is_some());
        assert_eq!(
            (c.tags.get("role"), c.tags.get("zone")),
            (Some("db"), Some("a"))
        );
    }

    #[test]
    fn every_flag_of_the_command_is_a_key() {
        // Whatever the flags are now, each one's long name is accepted as a key: a value of
        // the wrong shape is refused as a bad value, never as an unknown key.
        let mut cmd = Bin::command();
        cmd.build();
        let run = cmd.find_subcommand("run").unwrap();
        let keys: Vec<&str> = settable(run).filter_map(Arg::get_long).collect();
        assert!(keys.len() > 25, "{keys:?}");
        for key in keys.into_iter().filter(|k| *k != CONFIG) {
            let e = file_error(&format!("{key} = {{ a = [] }}\n"));
            assert!(matches!(e, ConfigFileError::BadValue { .. }), "{key}: {e}");
        }
    }

    #[test]
    fn a_flag_overrides_its_key_lists_included() {
        let file = "name = \"file\"\njoin = [\"127.0.0.1:7000\"]\nprobe-interval = \"10ms\"\n\
                    profile = \"test\"\n";
        let args = parse(
            file,
            &[
                "--name",
                "flag",
                "--join",
                "127.0.0.1:7001",
                "--probe-interval",
                "300ms",
            ],
        )
        .unwrap();
        let c = args.node.into_config().unwrap();
        assert_eq!(c.name, "flag");
        assert_eq!(c.seeds, ["127.0.0.1:7001".parse().unwrap()]);
        assert_eq!(c.probe_interval, Duration::from_millis(300));
    }

    #[test]
    fn a_false_switch_leaves_it_off() {
        assert!(!parse("verbose = false\n", &[]).unwrap().verbose);
        assert!(parse("verbose = false\n", &["--verbose"]).unwrap().verbose);
    }

    #[test]
    fn each_error_names_the_key() {
        let e = file_error("probe_interval = \"1s\"\n");
        assert!(
            matches!(&e, ConfigFileError::UnknownKey { key, hint: Some(h), .. }
                if key == "probe_interval" && h == "probe-interval"),
            "{e}"
        );
        let e = file_error("nonsense = 1\n");
        assert!(
            matches!(&e, ConfigFileError::UnknownKey { hint: None, .. }),
            "{e}"
        );
        for (file, key, rule) in [
            ("probe-interval = 200\n", "probe-interval", "needs a unit"),
            ("profile = \"moon\"\n", "profile", "unknown profile `moon`"),
            ("join = [\"seed\"]\n", "join", "needs a port"),
            ("bind = [\"127.0.0.1:1\"]\n", "bind", "single value"),
            ("join = [[\"a\"]]\n", "join", "only single values"),
            ("verbose = 1\n", "verbose", "true or false"),
            ("config = \"other.toml\"\n", "config", "cannot name another"),
        ] {
            let e = file_error(file);
            let text = e.to_string();
            assert!(
                matches!(&e, ConfigFileError::BadValue { key: k, reason, .. }
                    if k == key && reason.contains(rule)),
                "{file}: {text}"
            );
            assert!(text.contains(&format!("key `{key}`")), "{text}");
        }
        let e = file_error("probe-interval = 200ms\n");
        assert!(matches!(&e, ConfigFileError::Toml { .. }), "{e}");
        assert!(e.to_string().contains("line 1"), "{e}");
    }

    #[test]
    fn without_config_the_arguments_parse_as_usual() {
        let argv = ["bin", "run", "--name", "n1"];
        let Sub::Run(args) = try_parse_from::<Bin, _, _>(argv).unwrap().command;
        assert_eq!(args.node.name.as_deref(), Some("n1"));
        let err = try_parse_from::<Bin, _, _>(["bin", "run", "--nope"]).unwrap_err();
        assert!(matches!(err, ArgsError::Flags(_)));
    }
}
