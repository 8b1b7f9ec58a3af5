# One provider per region. us-east-1 also hosts the global pieces (CloudFront, Route 53, IAM).

provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"

  default_tags {
    tags = local.default_tags
  }
}

provider "aws" {
  alias  = "eu_west_1"
  region = "eu-west-1"

  default_tags {
    tags = local.default_tags
  }
}

provider "aws" {
  alias  = "ap_southeast_1"
  region = "ap-southeast-1"

  default_tags {
    tags = local.default_tags
  }
}

# Route 53 ARC's configuration API exists only in us-west-2 (its data plane is five regional
# endpoints, see modules/arc). Used for creating the routing controls, never during a failover.
provider "aws" {
  alias  = "us_west_2"
  region = "us-west-2"

  default_tags {
    tags = local.default_tags
  }
}
