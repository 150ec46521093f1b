import dagster as dg

# One partition per problem source (a generator, a file drop); new sources add partitions.
SOURCES = "sources"  # the dynamic partitions' name in the instance
source_partitions = dg.DynamicPartitionsDefinition(name=SOURCES)


def per_source_asset(group_name: str, code_version: str, condition, **kwargs):
    """The decorator of a stage that runs once per problem source (ingestion through difficulty
    scores): partitioned by source, versioned, and automated by the data condition."""
    return dg.asset(
        partitions_def=source_partitions,
        group_name=group_name,
        code_version=code_version,
        automation_condition=condition,
        **kwargs,
    )
