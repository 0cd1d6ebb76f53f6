"""What each function's code calls on AWS, per resource: the list template.yaml's policies must
equal (tests/unit/test_least_privilege.py) and that the emulator, holding each function to its
role, must let through and nothing else (tests/runtime/test_function_permissions.py).

Read from the code (layers/timeline/python/timeline/store/*.py, and which service each
function's handler drives: functions/*/app.py, timeline/service/container.py). pynamodb and
boto3 calls map to IAM actions as AWS authorizes them:

    Model.get                      GetItem           Model.batch_get    BatchGetItem
    Model.query, index.query       Query (table, or table/index/<name>)
    model.save / update / delete   PutItem / UpdateItem / DeleteItem
    Model.batch_write, BatchWriter BatchWriteItem (its puts and deletes need nothing more)
    TransactWrite save / update / delete / condition_check
                                   PutItem / UpdateItem / DeleteItem / ConditionCheckItem, per item
    sqs send_message_batch         sqs:SendMessage   s3 delete_objects  s3:DeleteObject per key
    s3 put_object with Tagging     s3:PutObject and s3:PutObjectTagging
    presigned POST / GET URL       s3:PutObject / s3:GetObject (they act with the signer's rights)

Nothing scans a table, and pynamodb 6 never calls DescribeTable. Resources are named by logical
id: "TweetsTable/index/ByAuthor" is the index's ARN, "MediaBucket/uploads/*" objects under a
prefix.

Cognito is called through its admin operations only, which IAM authorizes (security review,
issue 22, finding 8: the pool takes no public sign-up and its client allows no public password
flow). Its public operations (SignUp, InitiateAuth, ...), for which Cognito evaluates no IAM
policy, would be listed in PUBLIC_COGNITO; the code calls none.
"""

from __future__ import annotations

USERS, TWEETS, GRAPH, TIMELINES = "UsersTable", "TweetsTable", "GraphTable", "TimelinesTable"
IDEMPOTENCY, RATE_LIMITS, MEDIA = "IdempotencyTable", "RateLimitsTable", "MediaTable"
COPIES = "CelebrityCopiesTable"
TABLES = (USERS, TWEETS, GRAPH, TIMELINES, IDEMPOTENCY, RATE_LIMITS, MEDIA, COPIES)
BY_AUTHOR, BY_REPOST_OF = f"{TWEETS}/index/ByAuthor", f"{TWEETS}/index/ByRepostOf"
BY_THREAD = f"{TWEETS}/index/ByThread"
UPLOADS, ORIGINALS, VARIANTS = "MediaBucket/uploads/*", "MediaBucket/originals/*", "MediaBucket/variants/*"

# Every DynamoDB action a function could be given on a table; the ones not in a function's list
# must be refused.
DYNAMODB_ACTIONS = ("GetItem", "BatchGetItem", "Query", "Scan", "PutItem", "UpdateItem", "DeleteItem",
                    "BatchWriteItem", "ConditionCheckItem", "DescribeTable")

PUBLIC_COGNITO: tuple[str, ...] = ()

# function -> {(action, resource): the code that makes the call}
CALLS: dict[str, dict[tuple[str, str], str]] = {
    "ApiFunction": {
        ("dynamodb:GetItem", USERS): "UserStore.get, profile, id_for_handle, get_consistent",
        ("dynamodb:BatchGetItem", USERS): "UserStore.get_many (lists, home page authors)",
        ("dynamodb:PutItem", USERS): "UserStore.create (handle claim and profile, one transaction)",
        ("dynamodb:UpdateItem", USERS): "UserStore.finish_sign_up, touch; GraphStore.follow, unfollow (counters)",
        ("dynamodb:DeleteItem", USERS): "UserStore.release, delete (an unfinished sign-up undone)",
        ("dynamodb:GetItem", TWEETS): "TweetStore.get",
        ("dynamodb:BatchGetItem", TWEETS): "TweetStore.get_many (home and user timeline pages)",
        ("dynamodb:PutItem", TWEETS): "TweetStore.put_new (the post's transaction)",
        ("dynamodb:DeleteItem", TWEETS): "TweetStore.delete, delete_repost",
        ("dynamodb:Query", BY_AUTHOR): "TweetStore.entries_by_author (user timelines, the celebrity merge)",
        ("dynamodb:Query", BY_THREAD): "TweetStore.replies_after (a post's replies)",
        ("dynamodb:GetItem", GRAPH): "GraphStore.blocked_by; TweetStore.repost_by",
        ("dynamodb:BatchGetItem", GRAPH): "GraphStore.followed_since (the home read's reply rule), relations; "
                                          "EngagementStore.start_page_state (counts; liked or reposted posts past its ranges)",
        ("dynamodb:Query", GRAPH): "GraphStore._query_page, home_edges, blocks_around; "
                                   "EngagementStore.start_page_state (the viewer's likes and reposts)",
        ("dynamodb:PutItem", GRAPH): "GraphStore.follow, unfollow (tombstone), block, mute; TweetStore.put_new "
                                     "(repost claim, engagement edge); EngagementStore.like",
        ("dynamodb:UpdateItem", GRAPH): "GraphStore.set_reposts",
        ("dynamodb:DeleteItem", GRAPH): "GraphStore.follow (tombstone), unfollow, unblock, unmute; "
                                        "TweetStore.delete_repost, delete (a reply's engagement edge); "
                                        "EngagementStore.unlike",
        ("dynamodb:ConditionCheckItem", GRAPH): "GraphStore.follow (no block either way), set_reposts",
        ("dynamodb:Query", TIMELINES): "TimelineStore.page (home reads)",
        ("dynamodb:Query", COPIES): "CopyStore.page (a celebrity's posts, merged or on its user timeline)",
        ("dynamodb:BatchGetItem", TIMELINES): "TimelineStore.present (the home read's reply rule)",
        ("dynamodb:PutItem", TIMELINES): "TweetStore.put_new (the author's own entry: read-your-writes)",
        ("dynamodb:GetItem", IDEMPOTENCY): "TweetStore.key_holder",
        ("dynamodb:PutItem", IDEMPOTENCY): "TweetStore.put_new (the Idempotency-Key's claim)",
        ("dynamodb:GetItem", RATE_LIMITS): "Backoff.read (a sign-in's failures for the handle from the address)",
        ("dynamodb:UpdateItem", RATE_LIMITS): "Window.hit (sign-ins, sign-ups), hit_within (posts, upload forms); "
                                              "Backoff.failed, succeeded",
        ("dynamodb:GetItem", MEDIA): "MediaStore.get, pending_uploads (an account's pending uploads)",
        ("dynamodb:BatchGetItem", MEDIA): "MediaStore.get_many (a post's attachments; pending uploads at the "
                                          "cap)",
        ("dynamodb:PutItem", MEDIA): "MediaStore.create_pending (the upload form's transaction)",
        ("dynamodb:UpdateItem", MEDIA): "TweetStore.put_new (attachments claimed); MediaStore.create_pending "
                                        "(the account's pending uploads)",
        ("s3:PutObject", UPLOADS): "MediaStore.upload_form (presigned POST)",
        ("s3:GetObject", ORIGINALS): "MediaStore.url (presigned GET)",
        ("s3:GetObject", VARIANTS): "MediaStore.url (presigned GET)",
        ("secretsmanager:GetSecretValue", "CursorSecret"): "secrets.cursor_key (cursor signing key)",
        ("cognito-idp:AdminCreateUser", "UserPool"): "IdentityProvider.register (MessageAction SUPPRESS)",
        ("cognito-idp:AdminSetUserPassword", "UserPool"): "IdentityProvider.register; verify, authenticate (a "
                                                          "login left with its temporary password)",
        ("cognito-idp:AdminInitiateAuth", "UserPool"): "IdentityProvider.authenticate, verify "
                                                       "(ADMIN_USER_PASSWORD_AUTH), refresh (REFRESH_TOKEN_AUTH)",
        ("cognito-idp:AdminGetUser", "UserPool"): "IdentityProvider.exists (resuming a sign-up), confirmed",
        ("cognito-idp:AdminDeleteUser", "UserPool"): "IdentityProvider.remove: Accounts._make_login, when the "
                                                     "sign-up's claim was released before its login was made",
        ("cognito-idp:AdminUserGlobalSignOut", "UserPool"): "IdentityProvider.sign_out_everywhere",
    },
    "FanoutDispatchFunction": {
        ("dynamodb:GetItem", USERS): "UserStore.get_consistent (FanoutPlanner._fans_out); tally (its marks)",
        ("dynamodb:UpdateItem", USERS): "UserStore.promote, demote, tally (a celebrity's follows, counted)",
        ("dynamodb:Query", GRAPH): "GraphStore.followers_with_activity (follower chunks)",
        ("dynamodb:GetItem", GRAPH): "EngagementStore.count (the counts item's marks)",
        ("dynamodb:PutItem", GRAPH): "EngagementStore.count (a post's first counts), mirror_like",
        ("dynamodb:UpdateItem", GRAPH): "EngagementStore.count, _publish (replicas)",
        ("dynamodb:DeleteItem", GRAPH): "EngagementStore.mirror_like (a like taken back)",
        ("sqs:SendMessage", "FanoutQueue"): "FanoutQueue._send_batch (SendMessageBatch)",
    },
    "FanoutWorkerFunction": {
        ("dynamodb:GetItem", USERS): "UserStore.get_consistent (celebrity pages, rebuilds)",
        ("dynamodb:BatchGetItem", USERS): "UserStore.last_unfollowed; UserStore.celebrity_flags",
        ("dynamodb:UpdateItem", USERS): "UserStore.finish_rebuild; GraphStore.unfollow (a block's sever)",
        ("dynamodb:BatchGetItem", TWEETS): "TweetStore.existing, get_many (a deleted post's reposts)",
        ("dynamodb:BatchWriteItem", TWEETS): "TweetStore.remove_reposts",
        ("dynamodb:Query", BY_AUTHOR): "TweetStore.entries_by_author (backfills)",
        ("dynamodb:Query", BY_REPOST_OF): "TweetStore.reposts_of (a deleted post's reposts)",
        ("dynamodb:GetItem", GRAPH): "GraphStore.follow_state, blocks",
        ("dynamodb:BatchGetItem", GRAPH): "GraphStore.follow_states, followers_among, follower_edges",
        ("dynamodb:Query", GRAPH): "GraphStore.followers_with_activity, following_with_reposts, unfollowed_by",
        ("dynamodb:PutItem", GRAPH): "GraphStore.unfollow (tombstone; a block's sever); move_home (a demotion)",
        ("dynamodb:UpdateItem", GRAPH): "GraphStore.restamp",
        ("dynamodb:DeleteItem", GRAPH): "GraphStore.unfollow (a block's sever); move_home (a demotion)",
        ("dynamodb:ConditionCheckItem", GRAPH): "GraphStore.move_home (the follow still stands)",
        ("dynamodb:BatchWriteItem", GRAPH): "GraphStore.add_celebrity_edges, remove_celebrity_edges; "
                                            "TweetStore.remove_reposts (claims, engagement edges)",
        ("dynamodb:Query", TIMELINES): "TimelineStore.newest_ids, ids_via, trim",
        ("dynamodb:BatchWriteItem", TIMELINES): "TimelineStore.add_entries, add_posts, remove_entries, trim",
        ("dynamodb:Query", COPIES): "CopyStore.ids (trims and builds)",
        ("dynamodb:BatchWriteItem", COPIES): "CopyStore.put, remove, remove_from, set_floor, drop_floor",
        ("dynamodb:BatchWriteItem", MEDIA): "MediaStore.forget (a deleted post's media)",
        ("s3:PutObjectTagging", ORIGINALS): "MediaStore.keep (attached=true)",
        ("s3:DeleteObject", ORIGINALS): "MediaStore.delete_objects",
        ("s3:DeleteObject", VARIANTS): "MediaStore.delete_objects",
        ("sqs:SendMessage", "FanoutQueue"): "FanoutQueue._send_batch (next pages of walks)",
    },
    "MediaProcessorFunction": {
        ("dynamodb:GetItem", MEDIA): "MediaStore.get",
        ("dynamodb:UpdateItem", MEDIA): "MediaStore.claim, release, mark_ready, mark_rejected",
        ("s3:GetObject", UPLOADS): "MediaStore.read_upload",
        ("s3:DeleteObject", UPLOADS): "MediaStore.delete_upload",
        ("s3:PutObject", ORIGINALS): "MediaStore.put_checked",
        ("s3:PutObjectTagging", ORIGINALS): "MediaStore.put_checked (written tagged attached=false)",
        ("s3:PutObject", VARIANTS): "MediaStore.put_checked (the preview)",
    },
}


def table_grants(function: str) -> dict[str, set[str]]:
    """table (or index) -> the DynamoDB actions (without the prefix) the function's code uses."""
    grants: dict[str, set[str]] = {}
    for action, resource in CALLS[function]:
        service, _, name = action.partition(":")
        if service == "dynamodb":
            grants.setdefault(resource, set()).add(name)
    return grants
