"""The soak's Kafka cluster mode (deploy/local/stack.py): three KRaft nodes of one cluster, each
broker and controller on its own ports, with production's replication settings."""

from __future__ import annotations

from deploy.local.stack import Kafka, KafkaCluster, Stack, StackConfig


def props(text: str) -> dict[str, str]:
    return dict(
        line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")
    )


def test_a_cluster_of_three_replicates_every_partition_three_times_and_acks_at_two() -> None:
    config = StackConfig.for_profile("soak-unit")
    cluster = KafkaCluster(config, size=3)
    nodes = [props(n.server_properties()) for n in cluster.nodes]
    assert [n["node.id"] for n in nodes] == ["1", "2", "3"]
    # one quorum of three voters, the same in every node's file
    assert len({n["controller.quorum.voters"] for n in nodes}) == 1
    assert nodes[0]["controller.quorum.voters"].count("@") == 3
    for n in nodes:
        assert n["process.roles"] == "broker,controller"
        assert n["default.replication.factor"] == "3"
        assert n["min.insync.replicas"] == "2"
        assert n["offsets.topic.replication.factor"] == "3"
        assert n["transaction.state.log.min.isr"] == "2"
        assert n["unclean.leader.election.enable"] == "false"
    ports = [p for n in cluster.nodes for p in (n.port, n.controller_port)]
    assert len(set(ports)) == 6
    assert config.pg_port not in ports
    assert config.kafka_port not in ports
    assert cluster.bootstrap_servers.count(",") == 2
    assert len({n.data_dir for n in cluster.nodes}) == 3


def test_the_single_node_keeps_replication_factor_one() -> None:
    stack = Stack(StackConfig.for_profile("soak-unit"))
    assert isinstance(stack.kafka, Kafka)
    single = props(stack.kafka.server_properties())
    assert single["default.replication.factor"] == "1"
    assert single["controller.quorum.voters"].count("@") == 1
    assert isinstance(
        Stack(StackConfig.for_profile("soak-unit"), kafka_nodes=3).kafka, KafkaCluster
    )
