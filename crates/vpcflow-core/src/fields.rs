//! Every field of a VPC flow log record (spec §1.6), with the version that
//! introduced it, its Parquet type and its meaning.

use std::fmt;

/// The Parquet type AWS documents for a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParquetType {
    /// 32-bit integer.
    Int32,
    /// 64-bit integer.
    Int64,
    /// UTF-8 string.
    String,
}

impl ParquetType {
    /// The name AWS's documentation uses.
    pub fn aws_name(self) -> &'static str {
        match self {
            ParquetType::Int32 => "INT_32",
            ParquetType::Int64 => "INT_64",
            ParquetType::String => "STRING",
        }
    }
}

macro_rules! fields {
    ($( $variant:ident => $name:literal, $version:literal, $ptype:ident, $meaning:literal; )*) => {
        /// A field of a VPC flow log record.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Field {
            $(
                #[doc = $meaning]
                $variant,
            )*
        }

        impl Field {
            /// Every field, in the order of AWS's field table.
            pub const ALL: &'static [Field] = &[$(Field::$variant),*];

            /// The field name as written in a format (`${name}`) and in the header.
            pub fn name(self) -> &'static str {
                match self { $(Field::$variant => $name),* }
            }

            /// The flow log version that introduced the field.
            pub fn version(self) -> u8 {
                match self { $(Field::$variant => $version),* }
            }

            /// The Parquet type of the field.
            pub fn parquet_type(self) -> ParquetType {
                match self { $(Field::$variant => ParquetType::$ptype),* }
            }

            /// What the field means.
            pub fn meaning(self) -> &'static str {
                match self { $(Field::$variant => $meaning),* }
            }
        }
    };
}

fields! {
    Version => "version", 2, Int32, "Flow log format version: the highest version among the fields of the format.";
    AccountId => "account-id", 2, String, "AWS account ID of the owner of the network interface.";
    InterfaceId => "interface-id", 2, String, "ID of the network interface the traffic was recorded on.";
    SrcAddr => "srcaddr", 2, String, "Source address: of the packet for incoming traffic, the interface's own address for outgoing traffic.";
    DstAddr => "dstaddr", 2, String, "Destination address: of the packet for outgoing traffic, the interface's own address for incoming traffic.";
    SrcPort => "srcport", 2, Int32, "Source port (0 for protocols without ports).";
    DstPort => "dstport", 2, Int32, "Destination port (0 for protocols without ports).";
    Protocol => "protocol", 2, Int32, "IANA protocol number.";
    Packets => "packets", 2, Int64, "Packets of the flow in the aggregation interval.";
    Bytes => "bytes", 2, Int64, "IP-layer bytes of the flow in the aggregation interval.";
    Start => "start", 2, Int64, "Unix seconds of the first packet of the flow in the interval.";
    End => "end", 2, Int64, "Unix seconds of the last packet of the flow in the interval.";
    Action => "action", 2, String, "ACCEPT or REJECT.";
    LogStatus => "log-status", 2, String, "OK, NODATA (no traffic in the interval) or SKIPDATA (records were skipped in the interval).";
    VpcId => "vpc-id", 3, String, "ID of the VPC of the network interface.";
    SubnetId => "subnet-id", 3, String, "ID of the subnet of the network interface.";
    InstanceId => "instance-id", 3, String, "ID of the instance the network interface is attached to.";
    TcpFlags => "tcp-flags", 3, Int32, "OR of the TCP flags seen in the interval: FIN 1, SYN 2, RST 4, SYN-ACK 18.";
    Type => "type", 3, String, "Type of traffic: IPv4, IPv6 or EFA.";
    PktSrcAddr => "pkt-srcaddr", 3, String, "Source address in the packet's (innermost) IP header.";
    PktDstAddr => "pkt-dstaddr", 3, String, "Destination address in the packet's (innermost) IP header.";
    Region => "region", 4, String, "Region of the network interface.";
    AzId => "az-id", 4, String, "ID of the Availability Zone of the network interface.";
    SublocationType => "sublocation-type", 4, String, "Type of sublocation: wavelength, outpost or localzone.";
    SublocationId => "sublocation-id", 4, String, "ID of the sublocation.";
    PktSrcAwsService => "pkt-src-aws-service", 5, String, "AWS service (ip-ranges.json name) of pkt-srcaddr.";
    PktDstAwsService => "pkt-dst-aws-service", 5, String, "AWS service (ip-ranges.json name) of pkt-dstaddr.";
    FlowDirection => "flow-direction", 5, String, "Direction relative to the interface: ingress or egress.";
    TrafficPath => "traffic-path", 5, Int32, "Path egress traffic takes to its destination (1-8).";
    EcsClusterArn => "ecs-cluster-arn", 7, String, "ARN of the ECS cluster of the task.";
    EcsClusterName => "ecs-cluster-name", 7, String, "Name of the ECS cluster of the task.";
    EcsContainerInstanceArn => "ecs-container-instance-arn", 7, String, "ARN of the ECS container instance (EC2 launch type).";
    EcsContainerInstanceId => "ecs-container-instance-id", 7, String, "ID of the ECS container instance (EC2 launch type).";
    EcsContainerId => "ecs-container-id", 7, String, "Docker runtime ID of the task's first container.";
    EcsSecondContainerId => "ecs-second-container-id", 7, String, "Docker runtime ID of the task's second container.";
    EcsServiceName => "ecs-service-name", 7, String, "Name of the ECS service that started the task.";
    EcsTaskDefinitionArn => "ecs-task-definition-arn", 7, String, "ARN of the ECS task definition.";
    EcsTaskArn => "ecs-task-arn", 7, String, "ARN of the ECS task.";
    EcsTaskId => "ecs-task-id", 7, String, "ID of the ECS task.";
    RejectReason => "reject-reason", 8, String, "Why the traffic was rejected: BPA (VPC Block Public Access).";
}

impl Field {
    /// The field called `name` (as written inside `${}`).
    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL.iter().copied().find(|f| f.name() == name)
    }

    /// The column name in Parquet files and Athena tables: `-` becomes `_`.
    pub fn column_name(self) -> String {
        self.name().replace('-', "_")
    }

    /// Fields that stay filled in NODATA and SKIPDATA records: the interface's
    /// metadata, `start`, `end` and `log-status`; every traffic field is `-`.
    pub fn kept_without_traffic(self) -> bool {
        use Field::*;
        !matches!(
            self,
            SrcAddr
                | DstAddr
                | SrcPort
                | DstPort
                | Protocol
                | Packets
                | Bytes
                | Action
                | TcpFlags
                | Type
                | PktSrcAddr
                | PktDstAddr
                | PktSrcAwsService
                | PktDstAwsService
                | FlowDirection
                | TrafficPath
                | RejectReason
        )
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forty_fields_with_their_versions() {
        assert_eq!(Field::ALL.len(), 40);
        let count = |v| Field::ALL.iter().filter(|f| f.version() == v).count();
        assert_eq!(
            [count(2), count(3), count(4), count(5), count(7), count(8)],
            [14, 7, 4, 4, 10, 1]
        );
        assert!(Field::ALL
            .iter()
            .all(|f| [2, 3, 4, 5, 7, 8].contains(&f.version())));
    }

    #[test]
    fn names_round_trip_and_are_unique() {
        for f in Field::ALL {
            assert_eq!(Field::from_name(f.name()), Some(*f));
        }
        let mut names: Vec<_> = Field::ALL.iter().map(|f| f.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 40);
        assert_eq!(Field::from_name("srcAddr"), None);
        assert_eq!(Field::from_name("tgw-id"), None);
    }

    #[test]
    fn parquet_types_follow_the_spec() {
        use ParquetType::*;
        let ints32 = [
            Field::Version,
            Field::SrcPort,
            Field::DstPort,
            Field::Protocol,
            Field::TcpFlags,
            Field::TrafficPath,
        ];
        let ints64 = [Field::Packets, Field::Bytes, Field::Start, Field::End];
        for f in Field::ALL {
            let expected = if ints32.contains(f) {
                Int32
            } else if ints64.contains(f) {
                Int64
            } else {
                String
            };
            assert_eq!(f.parquet_type(), expected, "{f}");
        }
        assert_eq!(Field::PktSrcAwsService.column_name(), "pkt_src_aws_service");
        assert_eq!(Field::Protocol.parquet_type().aws_name(), "INT_32");
    }
}
