variable "name" {
  description = "Name prefix for the ARC cluster, control panel, routing controls and safety rule."
  type        = string
  default     = "meridian"
}

variable "regions" {
  description = "Regions that get a routing control (one switch each)."
  type        = list(string)
}

variable "min_regions_on" {
  description = "Safety rule: the fewest regions whose routing control must stay on."
  type        = number
  default     = 2

  validation {
    condition     = var.min_regions_on >= 1
    error_message = "At least one region must always serve."
  }
}
