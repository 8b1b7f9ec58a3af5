variable "name" {
  description = "Name tag of the peering connection (for example \"meridian-us-east-1-eu-west-1\")."
  type        = string
}

variable "requester" {
  description = "Requester side: region, VPC ID, VPC CIDR and the private route table to add the route to."
  type = object({
    region         = string
    vpc_id         = string
    cidr           = string
    route_table_id = string
  })
}

variable "accepter" {
  description = "Accepter side: region, VPC ID, VPC CIDR and the private route table to add the route to."
  type = object({
    region         = string
    vpc_id         = string
    cidr           = string
    route_table_id = string
  })
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
