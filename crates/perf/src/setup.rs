//! Before a run: ApiVersions, the topic's metadata (creating it with --create), and which
//! partitions go on which connection to which leader.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::args::{Common, PartitionSpec};
use crate::conn::{bootstrap, Connection, CLIENT_ID};
use crate::protocol::{self, broker_error, Metadata};
use crate::wire::{error, Result};

/// One connection of the run: a leader broker's address and the partitions it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub address: String,
    pub partitions: Vec<i32>,
}

pub struct Plan {
    pub targets: Vec<Target>,
    /// The partitions the run uses, in order.
    pub partitions: Vec<i32>,
    /// The bootstrap connection (for ListOffsets, InitProducerId).
    pub connection: Connection,
}

fn metadata(connection: &mut Connection, topic: &str) -> Result<Metadata> {
    let id = connection.next_correlation_id();
    connection.call(
        &protocol::metadata_request(id, CLIENT_ID, topic),
        id,
        |frame, id| protocol::metadata_response(frame, id, topic),
    )
}

/// The partitions to use out of `count`.
fn chosen(spec: &PartitionSpec, count: usize) -> Result<Vec<i32>> {
    match spec {
        PartitionSpec::All => Ok((0..count as i32).collect()),
        PartitionSpec::Count(n) if *n <= count => Ok((0..*n as i32).collect()),
        PartitionSpec::Count(n) => error(format!("--partitions {n}: the topic has {count}")),
        PartitionSpec::List(list) => {
            if let Some(missing) = list.iter().find(|&&partition| partition as usize >= count) {
                return error(format!(
                    "--partitions: the topic has no partition {missing} ({count} partitions)"
                ));
            }
            Ok(list.clone())
        }
    }
}

/// Spreads `partitions` over `connections` connections. With more connections than
/// partitions and `share` (plain produce), partitions are reused so every connection sends;
/// otherwise (idempotent produce, consume) a partition is on one connection only.
pub fn spread(partitions: &[i32], connections: usize, share: bool) -> Vec<Vec<i32>> {
    if partitions.is_empty() {
        return Vec::new();
    }
    if share && connections > partitions.len() {
        return (0..connections)
            .map(|index| vec![partitions[index % partitions.len()]])
            .collect();
    }
    let count = connections.min(partitions.len());
    let mut spread = vec![Vec::new(); count];
    for (index, &partition) in partitions.iter().enumerate() {
        spread[index % count].push(partition);
    }
    spread
}

pub fn plan(common: &Common, needed: &[(&str, (i16, i16))], share: bool) -> Result<Plan> {
    let mut connection = bootstrap(&common.bootstrap)?;
    let mut all_needed = vec![
        ("Metadata", protocol::METADATA),
        ("ListOffsets", protocol::LIST_OFFSETS),
    ];
    if common.create {
        all_needed.push(("CreateTopics", protocol::CREATE_TOPICS));
    }
    all_needed.extend_from_slice(needed);
    connection.negotiate(&all_needed)?;
    let topic = common.topic.as_str();
    let mut current = metadata(&mut connection, topic)?;
    if current.topic_error == 3 && common.create {
        let partitions = match &common.partitions {
            PartitionSpec::All => 1,
            PartitionSpec::Count(n) => *n as i32,
            PartitionSpec::List(list) => list.iter().max().map_or(1, |max| max + 1),
        };
        let id = connection.next_correlation_id();
        let request = protocol::create_topics_request(
            id,
            CLIENT_ID,
            topic,
            partitions,
            common.replication_factor,
        );
        let (code, message) = connection.call(&request, id, protocol::create_topics_response)?;
        if code != 0 && code != 36 {
            return Err(broker_error(
                code,
                &format!("CreateTopics {topic}"),
                message.as_deref(),
            ));
        }
        if !common.quiet {
            eprintln!("created topic {topic} with {partitions} partitions");
        }
    }
    // A topic just created may not have leaders yet: ask again for a while.
    let deadline = Instant::now() + Duration::from_secs(30);
    let partitions = loop {
        let ready = if current.topic_error == 0 {
            let partitions = chosen(&common.partitions, current.partitions.len())?;
            let all_led = partitions.iter().all(|&partition| {
                current.partitions.iter().any(|metadata| {
                    metadata.partition == partition
                        && metadata.error_code == 0
                        && metadata.leader >= 0
                })
            });
            all_led.then_some(partitions)
        } else {
            None
        };
        if let Some(partitions) = ready {
            break partitions;
        }
        let retriable =
            matches!(current.topic_error, 0 | 5) || (current.topic_error == 3 && common.create);
        if !retriable || Instant::now() > deadline {
            if current.topic_error != 0 {
                let hint = if current.topic_error == 3 {
                    " (--create makes it)"
                } else {
                    ""
                };
                return Err(broker_error(
                    current.topic_error,
                    &format!("Metadata {topic}{hint}"),
                    None,
                ));
            }
            return error(format!(
                "Metadata {topic}: partitions without a leader after 30 s"
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
        current = metadata(&mut connection, topic)?;
    };
    let mut leaders = BTreeMap::new();
    let mut by_leader: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    for &partition in &partitions {
        let leader = current
            .partitions
            .iter()
            .find(|metadata| metadata.partition == partition)
            .unwrap()
            .leader;
        let Some(broker) = current
            .brokers
            .iter()
            .find(|broker| broker.node_id == leader)
        else {
            return error(format!(
                "Metadata: partition {partition}'s leader {leader} is not among the brokers"
            ));
        };
        let host = if broker.host.contains(':') {
            format!("[{}]", broker.host)
        } else {
            broker.host.clone()
        };
        leaders.insert(leader, format!("{host}:{}", broker.port));
        by_leader.entry(leader).or_default().push(partition);
    }
    let mut targets = Vec::new();
    for (leader, leader_partitions) in by_leader {
        wait_until_led(&leaders[&leader], topic, &leader_partitions, deadline)?;
        for group in spread(&leader_partitions, common.connections, share) {
            targets.push(Target {
                address: leaders[&leader].clone(),
                partitions: group,
            });
        }
    }
    Ok(Plan {
        targets,
        partitions,
        connection,
    })
}

/// Waits until the leader answers ListOffsets for each of `partitions` without error: Metadata
/// can name a leader (Kafka's metadata cache) a moment before that broker acts as one (its replica
/// manager), and a Produce in between fails with NOT_LEADER_OR_FOLLOWER. Only these errors of a
/// topic being set up (UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE, NOT_LEADER_OR_FOLLOWER)
/// are waited out, and only here; during the run every error code is fatal.
fn wait_until_led(address: &str, topic: &str, partitions: &[i32], deadline: Instant) -> Result<()> {
    let mut connection = Connection::open(address)?;
    connection.negotiate(&[("ListOffsets", protocol::LIST_OFFSETS)])?;
    loop {
        let id = connection.next_correlation_id();
        let request = protocol::list_offsets_request(
            id,
            CLIENT_ID,
            topic,
            partitions,
            protocol::LATEST_TIMESTAMP,
        );
        let failure = match connection.call(&request, id, protocol::list_offsets_response) {
            Ok(_) => return Ok(()),
            Err(failure) => failure,
        };
        let retriable = [
            "UNKNOWN_TOPIC_OR_PARTITION",
            "LEADER_NOT_AVAILABLE",
            "NOT_LEADER_OR_FOLLOWER",
        ]
        .iter()
        .any(|name| failure.0.contains(name));
        if !retriable || Instant::now() > deadline {
            return Err(failure);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Offsets of `partitions` at `timestamp` (earliest/latest), asked of each partition's leader.
pub fn list_offsets(plan: &mut Plan, topic: &str, timestamp: i64) -> Result<BTreeMap<i32, i64>> {
    let mut offsets = BTreeMap::new();
    let mut by_address: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for target in &plan.targets {
        by_address
            .entry(target.address.clone())
            .or_default()
            .extend(&target.partitions);
    }
    for (address, partitions) in by_address {
        let mut connection = Connection::open(&address)?;
        connection.negotiate(&[("ListOffsets", protocol::LIST_OFFSETS)])?;
        let id = connection.next_correlation_id();
        let request = protocol::list_offsets_request(id, CLIENT_ID, topic, &partitions, timestamp);
        for (partition, offset) in connection.call(&request, id, protocol::list_offsets_response)? {
            offsets.insert(partition, offset);
        }
        for partition in &partitions {
            if !offsets.contains_key(partition) {
                return error(format!("ListOffsets: no answer for partition {partition}"));
            }
        }
    }
    Ok(offsets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreading_partitions_over_connections() {
        assert_eq!(spread(&[0, 1, 2], 2, true), vec![vec![0, 2], vec![1]]);
        assert_eq!(spread(&[0], 3, true), vec![vec![0], vec![0], vec![0]]);
        assert_eq!(spread(&[0], 3, false), vec![vec![0]]);
        assert_eq!(spread(&[4, 5], 1, false), vec![vec![4, 5]]);
        assert_eq!(chosen(&PartitionSpec::Count(2), 3).unwrap(), vec![0, 1]);
        assert!(chosen(&PartitionSpec::Count(4), 3).is_err());
        assert!(chosen(&PartitionSpec::List(vec![3]), 3).is_err());
    }
}
