# State moves for resources that were restructured, so existing stacks replace nothing.
# Keep until every state that predates them has been applied once.

moved {
  from = aws_lb_listener.https["public"]
  to   = aws_lb_listener.public
}

moved {
  from = aws_lb_listener.https["internal"]
  to   = aws_lb_listener.internal
}
