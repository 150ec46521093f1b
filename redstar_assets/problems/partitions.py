from dagster import DynamicPartitionsDefinition

# One partition per problem source (a generator, a file drop); new sources add partitions.
SOURCES = "sources"  # the dynamic partitions' name in the instance
source_partitions = DynamicPartitionsDefinition(name=SOURCES)
