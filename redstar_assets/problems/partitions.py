from dagster import DynamicPartitionsDefinition

# One partition per problem source (a generator, a file drop); new sources add partitions.
source_partitions = DynamicPartitionsDefinition(name="sources")
