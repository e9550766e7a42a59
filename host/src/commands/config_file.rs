//! `--config FILE.toml` for `smn train` and `smn demo`: the file's keys are
//! the subcommand's long flags (`epochs = 20`, `augment = true`,
//! `val-ids = "3001-3329"`), and a flag on the command line wins over the
//! file. A run directory's `config.toml` is such a file, written from the
//! options a run really used (defaults included), so
//! `smn train --config RUN/config.toml --out RUN2` reproduces `RUN`.
//!
//! The file is read by turning its keys into flags placed before the
//! command line's (the subcommands let a later flag override an earlier
//! one), so every value goes through the same parsers and checks as typed
//! flags.
use anyhow::{bail, Context, Result};
use clap::{ArgAction, ArgMatches, Command};
use std::ffi::OsString;
use std::path::Path;

/// The flag that names the file.
pub const CONFIG_FLAG: &str = "config";

/// `argv` with the keys of the `--config FILE` of its subcommand (if it has
/// that option and it is given) inserted as flags right after the
/// subcommand's name.
///
/// # Errors
/// When the file cannot be read or parsed, or a key is not a flag of the
/// subcommand, or a value is a table; the message names the file and key.
pub fn expand(argv: Vec<OsString>, cli: &Command) -> Result<Vec<OsString>> {
    let Some((at, sub)) = argv.iter().enumerate().skip(1).find_map(|(i, a)| {
        let name = a.to_str()?;
        cli.find_subcommand(name).map(|s| (i, s))
    }) else {
        return Ok(argv);
    };
    if !sub.get_arguments().any(|a| a.get_id() == CONFIG_FLAG) {
        return Ok(argv);
    }
    let Some(path) = config_path(argv.get(at + 1..).unwrap_or_default()) else {
        return Ok(argv);
    };
    let flags = flags_of(Path::new(&path), sub)?;
    let mut out = argv;
    let tail = out.split_off(at + 1);
    out.extend(flags);
    out.extend(tail);
    Ok(out)
}

/// The value of `--config X` or `--config=X` in a subcommand's arguments.
fn config_path(args: &[OsString]) -> Option<OsString> {
    let long = format!("--{CONFIG_FLAG}");
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let text = a.to_string_lossy();
        if text == long {
            return it.next().cloned();
        }
        if let Some(v) = text.strip_prefix(&format!("{long}=")) {
            return Some(v.into());
        }
    }
    None
}

/// The flags that the TOML file at `path` stands for.
fn flags_of(path: &Path, sub: &Command) -> Result<Vec<OsString>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read config file {}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .with_context(|| format!("{}: invalid TOML", path.display()))?;
    let mut flags = Vec::new();
    for (key, value) in &table {
        let Some(arg) = sub
            .get_arguments()
            .find(|a| a.get_long() == Some(key.as_str()) && a.get_id() != CONFIG_FLAG)
        else {
            bail!(
                "{}: unknown key '{key}' (keys are the long flags of `smn {}`; see --help)",
                path.display(),
                sub.get_name()
            );
        };
        let is_switch = matches!(arg.get_action(), ArgAction::SetTrue);
        let mut values = match value {
            toml::Value::Array(items) => items.iter().map(|v| scalar(path, key, v)).collect::<Result<Vec<_>>>()?,
            v => vec![scalar(path, key, v)?],
        };
        // A list option (`partition = ["train", "val"]`) is one flag: a
        // repeated flag would override itself.
        if let Some(delimiter) = arg.get_value_delimiter() {
            values = vec![values.join(&delimiter.to_string())];
        }
        for v in values {
            match (is_switch, v.as_str()) {
                (true, "true") => flags.push(format!("--{key}").into()),
                (true, "false") => {}
                (true, other) => bail!("{}: '{key}' is a switch: true or false, not '{other}'", path.display()),
                (false, _) => flags.push(format!("--{key}={v}").into()),
            }
        }
    }
    Ok(flags)
}

/// A TOML scalar as the text a flag would take.
fn scalar(path: &Path, key: &str, value: &toml::Value) -> Result<String> {
    Ok(match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        _ => bail!("{}: '{key}' must be a string, number or boolean", path.display()),
    })
}

/// The TOML file of the options `matches` holds for subcommand `sub` (given
/// or default), without `--config` itself and `skip`; keys in the order of
/// the subcommand's flags.
pub fn effective_config(matches: &ArgMatches, sub: &Command, skip: &[&str]) -> String {
    let mut table = toml::Table::new();
    for arg in sub.get_arguments() {
        let id = arg.get_id().as_str();
        let Some(long) = arg.get_long() else { continue };
        if id == CONFIG_FLAG || skip.contains(&id) {
            continue;
        }
        if matches!(arg.get_action(), ArgAction::SetTrue) {
            table.insert(long.into(), toml::Value::Boolean(matches.get_flag(id)));
            continue;
        }
        let Ok(Some(raw)) = matches.try_get_raw(id) else {
            continue;
        };
        let values: Vec<String> = raw.map(|v| v.to_string_lossy().into_owned()).collect();
        let value = match (arg.get_value_delimiter(), <[String; 1]>::try_from(values)) {
            (_, Ok([one])) => toml::Value::String(one),
            (Some(delimiter), Err(many)) => toml::Value::String(many.join(&delimiter.to_string())),
            (None, Err(many)) => toml::Value::Array(many.into_iter().map(toml::Value::String).collect()),
        };
        table.insert(long.into(), value);
    }
    toml::to_string(&table).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Args, FromArgMatches};

    #[derive(Args, Debug, PartialEq)]
    #[command(args_override_self = true)]
    struct Opts {
        #[arg(long)]
        config: Option<std::path::PathBuf>,
        #[arg(long, default_value_t = 3)]
        epochs: usize,
        #[arg(long)]
        augment: bool,
        #[arg(long)]
        ids: Option<String>,
    }

    fn cli() -> Command {
        Opts::augment_args(Command::new("train").no_binary_name(false))
            .name("train")
            .bin_name("smn train")
    }

    fn root() -> Command {
        Command::new("smn").subcommand(cli())
    }

    fn parse(argv: &[&str]) -> Result<(Opts, ArgMatches)> {
        let argv = expand(argv.iter().map(OsString::from).collect(), &root())?;
        let m = root().try_get_matches_from(argv)?;
        let (_, sub) = m.subcommand().context("no subcommand")?;
        Ok((Opts::from_arg_matches(sub)?, sub.clone()))
    }

    #[test]
    fn file_values_apply_and_the_command_line_wins() {
        let dir = std::env::temp_dir().join(format!("smn-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(&file, "epochs = 7\naugment = true\nids = \"1-50\"\n").unwrap();
        let f = file.to_str().unwrap();
        let (o, _) = parse(&["smn", "train", "--config", f]).unwrap();
        assert_eq!((o.epochs, o.augment, o.ids.as_deref()), (7, true, Some("1-50")));
        let (o, m) = parse(&["smn", "train", "--epochs", "9", &format!("--config={f}")]).unwrap();
        assert_eq!((o.epochs, o.augment), (9, true));
        // The effective file reproduces these options.
        std::fs::write(&file, effective_config(&m, &cli(), &[])).unwrap();
        let (again, _) = parse(&["smn", "train", "--config", f]).unwrap();
        assert_eq!(again.epochs, 9);
        assert_eq!(again.ids, o.ids);
        assert!(again.augment);
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_file() {
        let dir = std::env::temp_dir().join(format!("smn-config-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        let f = file.to_str().unwrap();
        for (text, expect) in [
            ("epoch = 7", "unknown key 'epoch'"),
            ("augment = \"yes\"", "'augment' is a switch"),
            ("epochs = { a = 1 }", "'epochs' must be"),
            ("epochs = ", "invalid TOML"),
        ] {
            std::fs::write(&file, text).unwrap();
            let err = parse(&["smn", "train", "--config", f]).unwrap_err().to_string();
            assert!(err.contains(expect) && err.contains("c.toml"), "{text}: {err}");
        }
        let err = parse(&["smn", "train", "--config", "/nonexistent/x.toml"]).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/x.toml"), "{err}");
    }
}
