# Values the mocked AWS provider returns where random strings would not do: valid JSON for
# policy documents (other resources parse them), real-looking ARNs, AZ names, account IDs.

mock_data "aws_caller_identity" {
  defaults = {
    account_id = "123456789012"
    arn        = "arn:aws:iam::123456789012:user/test"
  }
}

mock_data "aws_partition" {
  defaults = {
    partition  = "aws"
    dns_suffix = "amazonaws.com"
  }
}

mock_data "aws_region" {
  defaults = {
    name = "us-east-1"
  }
}

mock_data "aws_availability_zones" {
  defaults = {
    names = ["zone-a", "zone-b"]
  }
}

mock_data "aws_iam_policy_document" {
  defaults = {
    json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
  }
}

mock_data "aws_elb_service_account" {
  defaults = {
    arn = "arn:aws:iam::127311923021:root"
  }
}

mock_resource "aws_kms_key" {
  defaults = {
    arn = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
  }
}

mock_resource "aws_secretsmanager_secret" {
  defaults = {
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:meridian/forward-secret-AbCdEf"
  }
}

mock_resource "aws_lb" {
  defaults = {
    arn        = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/meridian/0123456789abcdef"
    arn_suffix = "app/meridian/0123456789abcdef"
    dns_name   = "meridian-0123456789.elb.amazonaws.com"
    zone_id    = "Z35SXDOTRQ7X7K"
  }
}

mock_resource "aws_lb_target_group" {
  defaults = {
    arn        = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/meridian/0123456789abcdef"
    arn_suffix = "targetgroup/meridian/0123456789abcdef"
  }
}

mock_resource "aws_iam_role" {
  defaults = {
    arn = "arn:aws:iam::123456789012:role/mock"
  }
}

mock_resource "aws_sns_topic" {
  defaults = {
    arn = "arn:aws:sns:us-east-1:123456789012:Automation-mock"
  }
}

mock_resource "aws_cloudwatch_metric_alarm" {
  defaults = {
    arn = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:mock"
  }
}

mock_resource "aws_cloudwatch_log_group" {
  defaults = {
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:mock"
  }
}

mock_resource "aws_ecs_cluster" {
  defaults = {
    arn = "arn:aws:ecs:us-east-1:123456789012:cluster/mock"
  }
}

# AppConfig IDs are validated: 4-7 lowercase letters or digits.
mock_resource "aws_appconfig_application" {
  defaults = {
    id  = "abc1234"
    arn = "arn:aws:appconfig:us-east-1:123456789012:application/abc1234"
  }
}

mock_resource "aws_appconfig_environment" {
  defaults = {
    environment_id = "env1234"
  }
}

mock_resource "aws_appconfig_configuration_profile" {
  defaults = {
    configuration_profile_id = "pro1234"
  }
}

mock_resource "aws_appconfig_deployment_strategy" {
  defaults = {
    id = "str1234"
  }
}

mock_resource "aws_appconfig_hosted_configuration_version" {
  defaults = {
    version_number = 1
  }
}

mock_resource "aws_s3_bucket" {
  defaults = {
    arn = "arn:aws:s3:::mock-bucket"
  }
}

mock_resource "aws_wafv2_web_acl" {
  defaults = {
    arn = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/mock/00000000-0000-0000-0000-000000000000"
  }
}

mock_resource "aws_ecr_repository" {
  defaults = {
    arn = "arn:aws:ecr:us-east-1:123456789012:repository/mock"
  }
}

mock_resource "aws_iam_openid_connect_provider" {
  defaults = {
    arn = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
  }
}

mock_resource "aws_subnet" {
  defaults = {
    arn = "arn:aws:ec2:us-east-1:123456789012:subnet/subnet-0123456789abcdef0"
  }
}

# Replication group IDs must begin with a letter; random mock strings sometimes do not.
mock_resource "aws_elasticache_replication_group" {
  defaults = {
    id = "meridian-mock"
  }
}

mock_data "aws_ec2_managed_prefix_list" {
  defaults = {
    id = "pl-0123456789abcdef0"
  }
}

mock_resource "aws_route53recoverycontrolconfig_cluster" {
  defaults = {
    arn = "arn:aws:route53-recovery-control::123456789012:cluster/mock"
    cluster_endpoints = [
      { endpoint = "https://host-aaaaaa.us-east-1.example.com/v1", region = "us-east-1" },
      { endpoint = "https://host-bbbbbb.us-west-2.example.com/v1", region = "us-west-2" },
      { endpoint = "https://host-cccccc.eu-west-1.example.com/v1", region = "eu-west-1" },
      { endpoint = "https://host-dddddd.ap-northeast-1.example.com/v1", region = "ap-northeast-1" },
      { endpoint = "https://host-eeeeee.ap-southeast-2.example.com/v1", region = "ap-southeast-2" },
    ]
  }
}

mock_resource "aws_route53recoverycontrolconfig_control_panel" {
  defaults = {
    arn = "arn:aws:route53-recovery-control::123456789012:controlpanel/mock"
  }
}

mock_resource "aws_route53recoverycontrolconfig_routing_control" {
  defaults = {
    arn = "arn:aws:route53-recovery-control::123456789012:controlpanel/mock/routingcontrol/mock"
  }
}

mock_resource "aws_ssm_document" {
  defaults = {
    arn = "arn:aws:ssm:us-east-1:123456789012:document/mock"
  }
}

mock_resource "aws_cloudwatch_composite_alarm" {
  defaults = {
    arn = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:mock-composite"
  }
}

mock_resource "aws_dynamodb_table" {
  defaults = {
    arn = "arn:aws:dynamodb:us-east-1:123456789012:table/meridian-dr-ledger"
  }
}

mock_resource "aws_ecs_task_definition" {
  defaults = {
    arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/mock:1"
  }
}

mock_resource "aws_lb_listener" {
  defaults = {
    arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/meridian/0123456789abcdef/0123456789abcdef"
  }
}
