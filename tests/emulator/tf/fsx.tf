resource "aws_fsx_lustre_file_system" "persistent" {
  storage_capacity            = 1200
  subnet_ids                  = [aws_subnet.private[0].id]
  security_group_ids          = [aws_security_group.nodes.id]
  deployment_type             = "PERSISTENT_2"
  per_unit_storage_throughput = 125
  data_compression_type       = "LZ4"
  file_system_type_version    = "2.15"
  tags                        = { Name = "${var.name}-persistent" }
}

resource "aws_fsx_lustre_file_system" "scratch" {
  storage_capacity   = 1200
  subnet_ids         = [aws_subnet.private[1].id]
  security_group_ids = [aws_security_group.nodes.id]
  deployment_type    = "SCRATCH_2"
}

resource "aws_fsx_data_repository_association" "datasets" {
  file_system_id                   = aws_fsx_lustre_file_system.persistent.id
  data_repository_path             = "s3://${aws_s3_bucket.data.bucket}/datasets"
  file_system_path                 = "/datasets"
  batch_import_meta_data_on_create = true
  imported_file_chunk_size         = 1024

  s3 {
    auto_import_policy {
      events = ["NEW", "CHANGED", "DELETED"]
    }
    auto_export_policy {
      events = ["NEW", "CHANGED", "DELETED"]
    }
  }

  tags = { Name = "${var.name}-datasets" }
}
