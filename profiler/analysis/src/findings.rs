//! Findings: what a trace says is wrong, in one shape that every output (the text report,
//! `check`, and machine formats such as JUnit or SARIF) can render without knowing each kind.

use crate::potential_deadlocks::analyse;
use crate::report::{cycle_line, lock_label, order_cycle_line, thread_label};
use lockprof_trace::Access;
use lockprof_trace::schema::{OrderMode, Site, Trace};

/// The kinds of findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(rename_all = "kebab-case"))]
pub enum FindingKind {
    /// An actual deadlock: threads that were stuck in a cycle.
    Deadlock,
    /// A cycle of lock orders (a lock-order inversion) that did not deadlock in this run.
    PotentialDeadlock,
    /// A cycle between lock classes (creation sites) that no instance cycle explains.
    PotentialClassDeadlock,
    /// A cycle of lock orders that can close only through an acquisition with a timeout: it can
    /// stall until the timeout, not hang.
    PotentialStall,
    /// A wait longer than the watchdog's threshold (`LOCKPROF_WATCHDOG_MS`).
    LongWait,
    /// A wait on a condition variable while holding another lock.
    CondvarWaitWhileHolding,
    /// A tokio task kept a std (or parking_lot) guard across an `.await`.
    AwaitHoldingLock,
}

impl FindingKind {
    /// Every kind, in report order.
    pub const ALL: [FindingKind; 7] = [
        FindingKind::Deadlock,
        FindingKind::PotentialDeadlock,
        FindingKind::PotentialClassDeadlock,
        FindingKind::PotentialStall,
        FindingKind::LongWait,
        FindingKind::CondvarWaitWhileHolding,
        FindingKind::AwaitHoldingLock,
    ];

    /// A stable rule id (`deadlock`, ...), as used in SARIF and suppressions.
    pub fn rule_id(self) -> &'static str {
        match self {
            FindingKind::Deadlock => "deadlock",
            FindingKind::PotentialDeadlock => "potential-deadlock",
            FindingKind::PotentialClassDeadlock => "potential-deadlock-class",
            FindingKind::PotentialStall => "potential-stall",
            FindingKind::LongWait => "long-wait",
            FindingKind::CondvarWaitWhileHolding => "condvar-wait-while-holding",
            FindingKind::AwaitHoldingLock => "await-holding-lock",
        }
    }

    /// One sentence on what the rule means.
    pub fn description(self) -> &'static str {
        match self {
            FindingKind::Deadlock => {
                "Threads waited for each other in a cycle: each held a lock the next one was waiting for."
            }
            FindingKind::PotentialDeadlock => {
                "Locks were taken in orders that form a cycle; had those orders run at the same time, they would have deadlocked."
            }
            FindingKind::PotentialClassDeadlock => {
                "Locks created at these sites were nested in orders that form a cycle between the sites; instances that meet could deadlock."
            }
            FindingKind::PotentialStall => {
                "Locks were taken in orders that form a cycle, one of them with a timeout: had they run at the same time, they would have stalled until it expired."
            }
            FindingKind::LongWait => {
                "A thread waited for a lock or condition variable longer than the watchdog's threshold."
            }
            FindingKind::CondvarWaitWhileHolding => {
                "A thread waited on a condition variable while holding another lock: every thread that needs that lock waits for the notification too."
            }
            FindingKind::AwaitHoldingLock => {
                "A tokio task held a std or parking_lot lock while another task ran on its thread: it was suspended across an .await, or blocked in block_in_place under a runtime that ran other tasks there. A task that locks it on that thread blocks the thread, and the holder can never run to release it."
            }
        }
    }

    /// Whether findings of this kind fail `lockprof check` by default.
    pub fn fails_by_default(self) -> bool {
        match self {
            FindingKind::Deadlock | FindingKind::PotentialDeadlock | FindingKind::PotentialClassDeadlock => {
                true
            }
            // A hazard, not a hang: the run shows another task ran meanwhile, not that one
            // needed the lock (if one had, on that thread, the deadlock would be reported).
            FindingKind::PotentialStall
            | FindingKind::LongWait
            | FindingKind::CondvarWaitWhileHolding
            | FindingKind::AwaitHoldingLock => false,
        }
    }
}

/// A source site that a finding involves, with what happens there.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct FindingSite {
    /// The source location.
    pub site: Site,
    /// What happens there, e.g. `thread #2 "ab" acquires lock #1 "A"`.
    pub role: String,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Finding {
    /// What kind of problem it is.
    pub kind: FindingKind,
    /// One line that says what happened, without sites.
    pub title: String,
    /// The sites involved, the most important (where it was detected) first.
    pub sites: Vec<FindingSite>,
}

/// Every finding in `trace`: deadlocks, then potential deadlocks, then class-level ones.
///
/// ```
/// use lockprof_analysis::findings::findings;
/// use lockprof_trace::schema::{Trace, WriteReason};
/// assert!(findings(&Trace::empty(WriteReason::Exit)).is_empty());
/// ```
pub fn findings(trace: &Trace) -> Vec<Finding> {
    let mut all = Vec::new();
    for deadlock in &trace.deadlocks {
        let mut sites = Vec::new();
        for hop in deadlock.cycle.iter().chain(&deadlock.knot) {
            let thread = thread_label(trace, hop.thread);
            sites.push(FindingSite {
                site: hop.wait_site.clone(),
                role: format!("{thread} waits for {}", lock_label(trace, hop.waits_for)),
            });
            let role = if hop.queued {
                format!("{thread} is queued to write {}", lock_label(trace, hop.holds))
            } else {
                format!("{thread} acquired {}", lock_label(trace, hop.holds))
            };
            sites.push(FindingSite { site: hop.hold_site.clone(), role });
        }
        all.push(Finding {
            kind: FindingKind::Deadlock,
            title: format!("deadlock: {}", cycle_line(trace, deadlock)),
            sites,
        });
    }
    let analysis = analyse(trace);
    for cycle in &analysis.potential {
        let title = if cycle.edges.len() == 1 {
            let lock = lock_label(trace, trace.lock_order[cycle.edges[0]].from);
            format!(
                "potential deadlock (re-entrant read): a thread reads {lock} again while it reads it; a writer queued in between blocks it"
            )
        } else {
            format!(
                "potential deadlock (lock-order inversion): {}{}",
                order_cycle_line(trace, &cycle.edges),
                also(cycle.others.len())
            )
        };
        all.push(Finding {
            kind: FindingKind::PotentialDeadlock,
            title,
            sites: order_sites(trace, &cycle.edges, &cycle.modes),
        });
    }
    for cycle in &analysis.class_cycles {
        let classes: Vec<String> = cycle.classes.iter().map(ToString::to_string).collect();
        all.push(Finding {
            kind: FindingKind::PotentialClassDeadlock,
            title: format!(
                "potential deadlock between lock classes: locks created at {} → {}{}",
                classes.join(" → "),
                classes[0],
                also(cycle.others.len())
            ),
            sites: order_sites(trace, &cycle.edges, &cycle.modes),
        });
    }
    for cycle in &analysis.stalls {
        all.push(Finding {
            kind: FindingKind::PotentialStall,
            title: format!(
                "lock-order cycle that can stall until a timeout: {}",
                order_cycle_line(trace, &cycle.edges)
            ),
            sites: order_sites(trace, &cycle.edges, &cycle.modes),
        });
    }
    for wait in &trace.long_waits {
        let thread = thread_label(trace, wait.thread);
        let mut sites = vec![FindingSite {
            site: wait.wait_site.clone(),
            role: format!("{thread} waited {} ms for {}", wait.waited_ms, lock_label(trace, wait.lock)),
        }];
        if let (Some(holder), Some(site)) = (wait.holder, &wait.holder_site) {
            let held = if wait.holder_exited { "took and never released" } else { "held" };
            sites.push(FindingSite {
                site: site.clone(),
                role: format!("{} {held} {}", thread_label(trace, holder), lock_label(trace, wait.lock)),
            });
        }
        // A lock whose holder is gone will never be released: say so in the title.
        let abandoned = if wait.holder_exited {
            format!(
                ", which is abandoned: its holder {} has exited without releasing it",
                wait.holder.map_or_else(|| "thread".to_owned(), |h| thread_label(trace, h))
            )
        } else {
            String::new()
        };
        all.push(Finding {
            kind: FindingKind::LongWait,
            title: format!(
                "long wait: {thread} waited at least {} ms for {}{abandoned}",
                wait.waited_ms,
                lock_label(trace, wait.lock)
            ),
            sites,
        });
    }
    for w in &trace.condvar_waits_while_holding {
        let thread = thread_label(trace, w.thread);
        all.push(Finding {
            kind: FindingKind::CondvarWaitWhileHolding,
            title: format!(
                "{thread} waited on {} while holding {}",
                lock_label(trace, w.condvar),
                lock_label(trace, w.held)
            ),
            sites: vec![
                FindingSite {
                    site: w.wait_site.clone(),
                    role: format!("{thread} waits on {}", lock_label(trace, w.condvar)),
                },
                FindingSite {
                    site: w.held_site.clone(),
                    role: format!("{thread} acquired {}", lock_label(trace, w.held)),
                },
            ],
        });
    }
    for w in &trace.awaits_holding_lock {
        let task = thread_label(trace, w.task);
        let observer = thread_label(trace, w.observer);
        let lock = lock_label(trace, w.lock);
        all.push(Finding {
            kind: FindingKind::AwaitHoldingLock,
            // Another task ran on the holder's thread: the holder had returned `Pending` (an
            // `.await`), or it is still inside its poll, blocked in `block_in_place` on a
            // runtime that runs tasks on this thread. lockprof sees the same thing in both.
            title: format!(
                "{task} held {lock} while {observer} ran on its thread (across an .await, or blocked in block_in_place)"
            ),
            sites: vec![
                FindingSite {
                    site: w.held_site.clone(),
                    role: format!("{task} acquired {lock}, held while another task ran on its thread"),
                },
                FindingSite {
                    site: w.observed_site.clone(),
                    role: format!(
                        "{observer} ran on the same thread while {task} was suspended at an .await or blocked in block_in_place"
                    ),
                },
            ],
        });
    }
    all
}

/// ` (and 3 other orders among these locks)`, or nothing.
fn also(others: usize) -> String {
    match others {
        0 => String::new(),
        1 => " (and 1 other order among these locks)".to_owned(),
        n => format!(" (and {n} other orders among these locks)"),
    }
}

/// Both acquisition sites of every edge, in the mode that makes the cycle dangerous: where the
/// second lock was taken, then the first.
fn order_sites(trace: &Trace, edges: &[usize], modes: &[OrderMode]) -> Vec<FindingSite> {
    let mut sites = Vec::new();
    for (&e, mode) in edges.iter().zip(modes) {
        let edge = &trace.lock_order[e];
        let thread = thread_label(trace, mode.thread);
        sites.push(FindingSite {
            site: mode.to_site.clone(),
            role: format!(
                "{thread} acquires {}{} while holding {}{}",
                lock_label(trace, edge.to),
                mode_note(trace, edge.to, mode.to_access, mode.timed),
                lock_label(trace, edge.from),
                mode_note(trace, edge.from, mode.from_access, false)
            ),
        });
        sites.push(FindingSite {
            site: mode.from_site.clone(),
            role: format!(
                "{thread} acquired {}{}",
                lock_label(trace, edge.from),
                mode_note(trace, edge.from, mode.from_access, false)
            ),
        });
    }
    sites
}

/// ` (read)`, ` (write, with a timeout)`, or nothing for a mutex taken plainly.
pub(crate) fn mode_note(trace: &Trace, lock: u64, access: Access, timed: bool) -> String {
    let rw = trace.lock(lock).is_some_and(|l| l.kind == lockprof_trace::LockKind::RwLock);
    let access = match access {
        Access::Exclusive if rw => Some("write"),
        Access::Exclusive => None,
        other => Some(other.as_str()),
    };
    match (access, timed) {
        (None, false) => String::new(),
        (None, true) => " (with a timeout)".to_owned(),
        (Some(a), false) => format!(" ({a})"),
        (Some(a), true) => format!(" ({a}, with a timeout)"),
    }
}
