//! The YAML twemproxy reads: its checks of the document, the tokens and the shape of
//! the tree (`conf_validate_document`, `conf_validate_tokens`,
//! `conf_validate_structure`), over a YAML parser's events.

use saphyr_parser::{Event, Parser, Span};

pub(super) type Spanned<'a> = (Event<'a>, Span);

pub(super) fn events(text: &str) -> Result<Vec<Spanned<'_>>, String> {
    Parser::new_from_str(text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("failed to get the next yaml document: {e}"))
}

/// Exactly one document (an empty file has none).
pub(super) fn check_document(events: &[Spanned<'_>]) -> Result<(), String> {
    let documents = events
        .iter()
        .filter(|(e, _)| matches!(e, Event::DocumentStart(_)))
        .count();
    if documents != 1 {
        return Err(format!(
            "must contain only 1 document; found {documents} documents"
        ));
    }
    Ok(())
}

/// The YAML twemproxy's token check turns away.
pub(super) fn check_tokens(events: &[Spanned<'_>]) -> Result<(), String> {
    let refuse = |what: &str| Err(format!("{what} token is disallowed"));
    for (event, span) in events {
        // Block collections and implicit document ends take no room in the text;
        // flow collections and `...` do.
        let written = span.end.index() > span.start.index();
        let (anchor, tag) = match event {
            Event::DocumentStart(true) => return refuse("document start"),
            Event::DocumentEnd if written => return refuse("document end"),
            Event::Alias(_) => return refuse("alias"),
            Event::SequenceStart(..) if written => return refuse("flow sequence start"),
            Event::MappingStart(..) if written => return refuse("flow mapping start"),
            Event::SequenceStart(anchor, tag) | Event::MappingStart(anchor, tag) => {
                (*anchor, tag.is_some())
            }
            Event::Scalar(_, _, anchor, tag) => (*anchor, tag.is_some()),
            _ => continue,
        };
        if anchor != 0 {
            return refuse("anchor");
        }
        if tag {
            return refuse("tag");
        }
    }
    Ok(())
}

/// Pool name -> mapping of `key: value` and exactly one sequence (twemproxy's
/// `conf_validate_structure`, step for step).
pub(super) fn check_structure(events: &[Spanned<'_>]) -> Result<(), String> {
    const ROOT: usize = 1;
    const MAX: usize = 2;
    let mut depth = 0;
    let mut count = [0usize; MAX + 1];
    let mut seq = false;
    // memkeep's extension: a pool whose servers come from DNS needs no sequence.
    let mut servers_from = false;
    for (event, _) in events {
        match event {
            Event::MappingStart(..) => {
                if depth == ROOT && count[depth] != 1 {
                    return Err(format!("has more than one \"key:value\" at depth {depth}"));
                }
                if depth >= MAX {
                    return Err(format!("has a depth greater than {MAX}"));
                }
                depth += 1;
            }
            Event::MappingEnd => {
                if depth == MAX {
                    if !seq && !servers_from {
                        return Err(format!("missing sequence directive at depth {depth}"));
                    }
                    seq = false;
                    servers_from = false;
                }
                depth -= 1;
                count[depth] = 0;
            }
            Event::SequenceStart(..) => {
                if seq {
                    return Err("has more than one sequence directive".into());
                }
                if depth != MAX {
                    return Err(format!("has sequence at depth {depth} instead of {MAX}"));
                }
                if count[depth] != 1 {
                    return Err(format!("has invalid \"key:value\" at depth {depth}"));
                }
                seq = true;
            }
            Event::SequenceEnd => count[depth] = 0,
            Event::Scalar(value, ..) => {
                if depth == MAX && count[depth] != 1 && value == "servers_from" {
                    servers_from = true;
                }
                if depth == 0 {
                    return Err(format!("has invalid empty \"key:\" at depth {depth}"));
                }
                if depth == ROOT && count[depth] != 0 {
                    return Err(format!("has invalid mapping \"key:\" at depth {depth}"));
                }
                if depth == MAX && count[depth] == 2 {
                    count[depth] = 0;
                }
                count[depth] += 1;
            }
            _ => {}
        }
    }
    Ok(())
}
